using System.Globalization;
using System.Text;

namespace KvmCluster.Sim.Tests;

/// <summary>
/// Six hours that give every policy family work: 12 small hosts (4 threads, 16 GiB, a power table, 60 s boots) and 36
/// two-vCPU guests in three groups — a third ramps from 15 % to 95 % and drops at 4.5 h (overloads, so detectors
/// differ), a third idles (consolidation, power-offs), a third swings on a three-hour sine (power-ons, rebalancing).
/// Guests of a group share their hosts under a spread placement (guest i lands on host i mod 12), and their memory
/// sizes differ, so evenly-distributed finds moves worth making too.
/// </summary>
internal static class ReplayScenario
{
    public const int Guests = 36;
    public const int Samples = 72;

    public static string Datacenter() => Kvmsim.Temp("replay-datacenter.yaml", """
        name: replay-lab
        hostTypes:
          - name: edge
            count: 12
            pes: 4
            mhzPerPe: 2000
            memoryMiB: 16384
            bandwidthMbps: 1000
            power: { watts: [60, 70, 78, 85, 92, 99, 106, 113, 120, 127, 135], standbyWatts: 5, bootSeconds: 60 }
        vmTypes:
          - { name: small, mhz: 1000, vcpus: 1, memoryMiB: 512 }
        """);

    public static string Trace()
    {
        var csv = new StringBuilder("vm,time,event,cpu,cores,mhz,memory_mib,type\n");
        for (var v = 0; v < Guests; v++)
        {
            var group = v % 3;
            for (var k = 0; k < Samples; k++)
            {
                var hours = k / 12.0;
                var cpu = group switch
                {
                    0 => hours < 4.5 ? Math.Min(95, 15 + 32 * hours) : 8,
                    1 => 6 + v % 5,
                    _ => 35 + 25 * Math.Sin(2 * Math.PI * (hours + v / 7.0) / 3),
                };
                var size = k == 0 ? $"2,4000,{(group == 0 ? 512 : group == 1 ? 2048 : 1024)}" : ",,";
                csv.Append(CultureInfo.InvariantCulture, $"vm-{v:00},{k * 300},,{Math.Round(cpu, 1)},{size},\n");
            }
        }
        return "csv:" + Kvmsim.Temp("replay-trace.csv", csv.ToString());
    }
}
