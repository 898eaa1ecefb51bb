using KvmCluster.Policies.Balancing;
using KvmCluster.Policies.Documents;
using KvmCluster.Policies.Migration;
using KvmCluster.Policies.Planning;
using KvmCluster.Policies.Rules;

namespace KvmCluster.Policies.Tests.Planning;

/// <summary>
/// The pve-ha-manager pattern: every folder under tests/scenarios holds a fleet (fleet.yaml), a policy
/// (policy.yaml, or a built-in name in policy.txt) and the expected plan as readable text (expected.txt).
/// Set KVMCLUSTER_UPDATE_GOLDEN=1 to rewrite the expected files after a deliberate change — and read the diff.
/// </summary>
public class ScenarioTests
{
    public static readonly DateTimeOffset Now = new(2026, 11, 1, 12, 0, 0, TimeSpan.Zero);

    public static TheoryData<string> Scenarios()
    {
        var data = new TheoryData<string>();
        foreach (var dir in Directory.GetDirectories(ScenarioRoot()).Order(StringComparer.Ordinal)) data.Add(Path.GetFileName(dir));
        return data;
    }

    internal static string ScenarioRoot() => Path.Combine(RepoRoot.Find(), "tests", "scenarios");

    public static Plan Run(string name)
    {
        var dir = Path.Combine(ScenarioRoot(), name);
        var fleet = FleetDocument.Parse(File.ReadAllText(Path.Combine(dir, "fleet.yaml")), Path.Combine(dir, "fleet.yaml"));
        Rules.Policy policy;
        if (File.Exists(Path.Combine(dir, "policy.yaml")))
            policy = PolicyDocument.Parse(File.ReadAllText(Path.Combine(dir, "policy.yaml")), Path.Combine(dir, "policy.yaml"));
        else if (!BuiltInPolicies.TryGet(File.ReadAllText(Path.Combine(dir, "policy.txt")).Trim(), out policy))
            throw new InvalidOperationException($"{name}: unknown built-in policy");
        var recent = File.Exists(Path.Combine(dir, "recent.txt"))
            ? File.ReadAllLines(Path.Combine(dir, "recent.txt")).Where(l => l.Trim().Length > 0)
                .Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries))
                .Select(p => new RecentMigration(p[0], p[1], p[2], Now.AddMinutes(-double.Parse(p[3], System.Globalization.CultureInfo.InvariantCulture))))
                .ToList()
            : [];
        return Rebalancer.Plan(fleet, policy, new PlanningContext { Now = Now, Link = MigrationLink.TenGigabit, RecentMigrations = recent });
    }

    [Theory]
    [MemberData(nameof(Scenarios))]
    public void Plan_matches_the_expected_text(string name)
    {
        var actual = Run(name).ToText();
        var expectedFile = Path.Combine(ScenarioRoot(), name, "expected.txt");
        if (Environment.GetEnvironmentVariable("KVMCLUSTER_UPDATE_GOLDEN") == "1") File.WriteAllText(expectedFile, actual);
        Assert.True(File.Exists(expectedFile), $"{expectedFile} is missing (run once with KVMCLUSTER_UPDATE_GOLDEN=1 and review it)");
        Assert.Equal(File.ReadAllText(expectedFile), actual);
    }

    [Theory]
    [MemberData(nameof(Scenarios))]
    public void Plans_are_deterministic(string name) => Assert.Equal(Run(name).ToText(), Run(name).ToText());
}
