using System.Collections;
using System.ComponentModel;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization.Metadata;
using KvmCluster.Grains.Serialization;
using KvmCluster.Policies.Model;

namespace KvmCluster.Silo.Tests.Docs;

/// <summary>
/// docs/guest-spec.md's field table is made from the guest model as the API reads it (System.Text.Json's contract of
/// the options the API uses, and each property's [Description]): a field added without a meaning, or a stale table,
/// fails here.
/// </summary>
public sealed class GuestSpecReferenceTests
{
    [Fact]
    public void The_guest_spec_reference_is_the_one_the_model_makes()
    {
        var rows = new List<(string Path, string Type, string Default, string About)>();
        var minimal = JsonSerializer.SerializeToNode(new Guest { Name = "g", VCpus = 1, MemoryMiB = 1 }, PolicyTypesSerialization.Options)!;
        Walk(typeof(Guest), "", minimal, rows);
        Assert.All(rows, r => Assert.False(string.IsNullOrWhiteSpace(r.About), $"{r.Path} has no [Description]"));

        var b = new StringBuilder("| field | takes | default | meaning |\n|---|---|---|---|\n");
        foreach (var r in rows) b.Append($"| `{r.Path}` | {Cell(r.Type)} | {Cell(r.Default)} | {Cell(r.About)} |\n");
        GeneratedDocs.Check("docs/guest-spec.md", b.ToString());
    }

    [Fact]
    public void The_example_in_the_guest_spec_reference_is_a_spec_the_api_accepts()
    {
        var text = File.ReadAllText(Path.Combine(GeneratedDocs.Root(), "docs", "guest-spec.md"));
        var from = text.IndexOf("```json\n", StringComparison.Ordinal) + "```json\n".Length;
        var example = text[from..text.IndexOf("```", from, StringComparison.Ordinal)];
        var guest = JsonSerializer.Deserialize<Guest>(example, Api.ApiJson.Options)!;
        Assert.Equal("web-1", guest.Name);
        Assert.True(guest.Cpu.WantsNested);
        Assert.Empty(guest.Problems());
    }

    private static void Walk(Type type, string prefix, JsonNode? defaults, List<(string, string, string, string)> rows)
    {
        var info = PolicyTypesSerialization.Options.GetTypeInfo(type);
        foreach (var p in info.Properties)
        {
            if (p.Set is null && p.AssociatedParameter is null) continue; // computed: shown in answers, never read
            var path = prefix + p.Name;
            var about = (p.AttributeProvider?.GetCustomAttributes(typeof(DescriptionAttribute), true).FirstOrDefault() as DescriptionAttribute)?.Description ?? "";
            var (kind, inner) = Kind(p.PropertyType);
            var required = p.IsRequired || p.AssociatedParameter is { HasDefaultValue: false, IsNullable: false };
            var dflt = required ? "required"
                : defaults?[p.Name] is { } node ? $"`{node.ToJsonString()}`"
                : p.AssociatedParameter is { HasDefaultValue: true } a ? $"`{JsonSerializer.Serialize(a.DefaultValue, PolicyTypesSerialization.Options)}`"
                : "—";
            rows.Add((path, kind, dflt, about));
            if (inner is not null) Walk(inner, path + (IsList(p.PropertyType) ? "[]." : "."), IsList(p.PropertyType) ? null : defaults?[p.Name], rows);
        }
    }

    private static bool IsList(Type t) => t != typeof(string) && typeof(IEnumerable).IsAssignableFrom(t) && !IsMap(t);

    private static bool IsMap(Type t) => t.GetInterfaces().Any(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IDictionary<,>));

    /// <summary>The field's JSON type, and the record to describe field by field inside it (if any).</summary>
    private static (string Kind, Type? Inner) Kind(Type t)
    {
        t = Nullable.GetUnderlyingType(t) ?? t;
        if (t == typeof(string)) return ("string", null);
        if (t == typeof(bool)) return ("boolean", null);
        if (t == typeof(int) || t == typeof(long)) return ("integer", null);
        if (t == typeof(double)) return ("number", null);
        if (t == typeof(Guid)) return ("string (UUID)", null);
        if (t.IsEnum) return ("one of " + string.Join(", ", Enum.GetValues(t).Cast<object>().Select(v => JsonSerializer.Serialize(v, t, PolicyTypesSerialization.Options).Trim('"'))), null);
        if (IsMap(t)) return ("string → string", null);
        if (IsList(t))
        {
            var element = t.IsGenericType ? t.GetGenericArguments()[0] : typeof(object);
            var (k, inner) = Kind(element);
            return ("list of " + (inner is null ? k : "objects"), inner);
        }
        return ("object", t);
    }

    private static string Cell(string s) => s.Replace("|", "\\|", StringComparison.Ordinal);
}
