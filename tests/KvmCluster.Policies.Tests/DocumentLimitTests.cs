using KvmCluster.Policies.Documents;

namespace KvmCluster.Policies.Tests;

/// <summary>Hostile documents: each is refused with the bound it crosses and where, quickly, without exhausting the stack.</summary>
public sealed class DocumentLimitTests
{
    public static TheoryData<string, string, string> Hostile() => new()
    {
        { "flow sequences nested 100,000 deep", "name: x\nbalancer: " + new string('[', 100_000), "nests deeper than 64" },
        { "flow mappings nested 100,000 deep", "name: x\nbalancer: " + string.Concat(Enumerable.Repeat("{a: ", 100_000)), "nests deeper than 64" },
        { "block mappings nested 70 deep", "name: x\n" + string.Concat(Enumerable.Range(0, 70).Select(i => new string(' ', i) + "k:\n")), "nests deeper than 64" },
        { "an alias bomb, 10 levels of 10", AliasBomb(10, 10), "expands to more than 1,000,000 nodes" },
        { "an alias as a key", "name: x\nbase: &k balancer\n*k : none\n", "keys must be plain strings" },
        { "a mapping as a key", "name: x\n? {a: 1}\n: 2\n", "keys must be plain strings" },
        { "a sequence as a key", "name: x\n? [a, b]\n: 2\n", "keys must be plain strings" },
        { "two thousand aliases", "a: &a 1\nb: [" + string.Join(",", Enumerable.Repeat("*a", 2000)) + "]\n", "more than 1,000 aliases" },
        { "five million characters", "name: x\n#" + new string('y', 5_000_000), "the limit is 4,194,304" },
    };

    [Theory, MemberData(nameof(Hostile))]
    public void A_hostile_policy_is_refused_naming_the_bound(string what, string text, string bound)
    {
        var e = Assert.Throws<DocumentException>(() => PolicyDocument.Parse(text, "hostile.yaml"));
        Assert.True(e.Errors.Any(x => x.Message.Contains(bound, StringComparison.Ordinal)), $"{what}: {string.Join("; ", e.Errors)}");
        Assert.All(e.Errors, x => Assert.Equal("hostile.yaml", x.File));
    }

    [Theory, MemberData(nameof(Hostile))]
    public void A_hostile_fleet_document_is_refused_naming_the_bound(string what, string text, string bound)
    {
        var e = Assert.Throws<DocumentException>(() => FleetDocument.Parse(text, "fleet.yaml"));
        Assert.True(e.Errors.Any(x => x.Message.Contains(bound, StringComparison.Ordinal)), $"{what}: {string.Join("; ", e.Errors)}");
    }

    [Fact]
    public void The_bound_is_located_where_it_is_crossed()
    {
        var e = Assert.Throws<DocumentException>(() => PolicyDocument.Parse("name: x\n\n\nbalancer: " + new string('[', 100), "p.yaml"));
        var error = Assert.Single(e.Errors);
        Assert.Equal(4, error.Line);
        Assert.Equal(10 + 64, error.Column); // the 64th '[', the 65th level below the document's mapping
    }

    [Fact]
    public void Aliases_within_the_bounds_still_work()
    {
        // A handful of anchors and aliases, as operators use them to repeat a block: no refusal from the limits.
        var p = PolicyDocument.Parse("name: &n anchored\nbalancer: none\nautomation: manual\ndescription: *n\n");
        Assert.Equal("anchored", p.Name);
    }

    private static string AliasBomb(int levels, int width)
    {
        var lines = new List<string> { "name: x", "l0: &l0 [lol]" };
        for (var i = 1; i < levels; i++) lines.Add($"l{i}: &l{i} [{string.Join(", ", Enumerable.Repeat($"*l{i - 1}", width))}]");
        return string.Join('\n', lines) + "\n";
    }
}
