using System.Globalization;

namespace KvmCluster.Policies.Rules;

/// <summary>
/// Policies known by name: <c>default</c>, <c>evenly-distributed</c>, <c>power-saving</c> and the adaptive
/// family as <c>detector-selection-parameter</c> (thr-mmt-0.8, iqr-mmt-1.5, mad-mmt-2.5, lr-mmt-1.2, …).
/// </summary>
public static class BuiltInPolicies
{
    public static IReadOnlyList<string> Names { get; } =
    [
        "default", "evenly-distributed", "power-saving",
        "thr-mmt-0.8", "iqr-mmt-1.5", "mad-mmt-2.5", "lr-mmt-1.2", "lrr-mmt-1.2", "lr-mc-1.2", "lr-rs-1.2", "lr-mu-1.2",
    ];

    public static bool TryGet(string name, out Policy policy)
    {
        policy = name switch
        {
            "default" => Policy.Default,
            "evenly-distributed" => new Policy { Name = name, Kind = BalancerKind.EvenlyDistributed, Weights = new ScoreWeights(Spread: 1, FewestMigrations: 1) },
            "power-saving" => new Policy { Name = name, Kind = BalancerKind.PowerSaving, Weights = new ScoreWeights(Spread: 0, Pack: 1, Power: 1) },
            _ => null!,
        };
        if (policy is not null) return true;
        if (TryParseAdaptive(name, out var adaptive))
        {
            // The adaptive family switches emptied hosts off (CloudSim counts them as off at once): many per round.
            policy = new Policy
            {
                Name = name,
                Kind = BalancerKind.Adaptive,
                Adaptive = adaptive,
                Weights = new ScoreWeights(Spread: 0, Power: 1),
                PowerSaving = new PowerSavingSettings { MaxPowerActionsPerRound = 50 },
            };
            return true;
        }
        return false;
    }

    /// <summary>Parses "lr-mmt-1.2"-style names.</summary>
    public static bool TryParseAdaptive(string name, out AdaptiveSettings settings)
    {
        settings = new AdaptiveSettings();
        var parts = name.Split('-');
        if (parts.Length != 3) return false;
        if (!Enum.TryParse<OverloadDetector>(parts[0], ignoreCase: true, out var d) || !IsLower(parts[0])) return false;
        if (!Enum.TryParse<VmSelection>(parts[1], ignoreCase: true, out var s) || !IsLower(parts[1])) return false;
        if (!double.TryParse(parts[2], NumberStyles.Float, CultureInfo.InvariantCulture, out var p)) return false;
        var (lo, hi) = Documents.PolicySchema.ParameterRange(d);
        if (p < lo || p > hi) return false;
        settings = new AdaptiveSettings { Detector = d, Selection = s, Parameter = p };
        return true;
    }

    private static bool IsLower(string s) => s.All(c => !char.IsUpper(c));
}
