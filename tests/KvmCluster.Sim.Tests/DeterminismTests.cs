using System.Globalization;
using System.Text;

namespace KvmCluster.Sim.Tests;

/// <summary>
/// The same snapshot and seed give the same plan in any process. Random VM selection (RS) was seeded with
/// HashCode.Combine, which .NET randomises per process: two silos, or one after a restart, planned differently.
/// </summary>
public class DeterminismTests
{
    [Fact]
    public void An_lr_rs_plan_is_the_same_in_separate_processes()
    {
        // One overloaded host with twelve guests trending up: RS picks among them at random (seeded).
        var fleet = new StringBuilder("sampleIntervalSeconds: 300\nhosts:\n");
        fleet.Append("  - { name: hv-01, memoryMiB: 131072, cpu: &cpu { vendor: GenuineIntel, model: Xeon Gold 6130, flags: [lm, nx], qemuModels: [qemu64], threads: 16, mhzPerThread: 2000 }, powerModel: { preset: hp-ml110-g5 } }\n");
        for (var h = 2; h <= 4; h++) fleet.Append(CultureInfo.InvariantCulture, $"  - {{ name: hv-0{h}, memoryMiB: 131072, cpu: *cpu, powerModel: {{ preset: hp-ml110-g5 }} }}\n");
        fleet.Append("guests:\n");
        for (var g = 0; g < 12; g++)
        {
            var usage = string.Join(", ", Enumerable.Range(0, 12).Select(k => (1400 + 130 * k + 10 * g).ToString(CultureInfo.InvariantCulture)));
            fleet.Append(CultureInfo.InvariantCulture, $"  - {{ name: g{g:00}, vcpus: 2, memoryMiB: 4096, host: hv-01, usage: {{ cpuMhz: [{usage}] }} }}\n");
        }
        fleet.Append("  - { name: quiet, vcpus: 1, memoryMiB: 2048, host: hv-02, usage: { cpuMhz: [500, 500, 500, 500, 500, 500, 500, 500, 500, 500, 500, 500] } }\n");
        var file = Kvmsim.Temp("rs-fleet.yaml", fleet.ToString());

        var first = Kvmsim.Exec("plan", "--fleet", file, "--policy", "lr-rs-1.2");
        var second = Kvmsim.Exec("plan", "--fleet", file, "--policy", "lr-rs-1.2");
        Assert.Equal(0, first.ExitCode);
        Assert.Contains("migrate g", first.Out);
        Assert.Contains("overloaded by LR(1.2)", first.Out);
        Assert.Equal(first.Out, second.Out);
        Assert.Equal(first.Out.Split('\n')[0], second.Out.Split('\n')[0]); // the plan id, a hash of its content
    }
}
