using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Serialization;
using Orleans.Serialization.Cloning;

namespace KvmCluster.Grains.Serialization;

/// <summary>
/// The placement core's model (hosts, guests, policies) stays free of Orleans attributes; grains carry those
/// records with System.Text.Json. The same options serve the REST API, so the wire and the API agree.
/// </summary>
public static class PolicyTypesSerialization
{
    public static readonly JsonSerializerOptions Options = Create();

    private static JsonSerializerOptions Create()
    {
        var o = new JsonSerializerOptions(JsonSerializerDefaults.Web)
        {
            DefaultIgnoreCondition = JsonIgnoreCondition.Never,
            RespectNullableAnnotations = true,
            RespectRequiredConstructorParameters = true,
        };
        o.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.KebabCaseLower));
        return o;
    }

    public static bool IsPolicyType(Type t) => t.Namespace is { } ns && ns.StartsWith("KvmCluster.Policies", StringComparison.Ordinal);

    /// <summary>JSON on the wire and in storage; within a silo the records are shared, not copied (see <see cref="SharedRecordCopier"/>).</summary>
    public static ISerializerBuilder AddPolicyTypes(this ISerializerBuilder builder)
    {
        builder.Services.AddSingleton<IGeneralizedCopier, SharedRecordCopier>();
        return builder.AddJsonSerializer(isSerializable: IsPolicyType, isCopyable: _ => false, o => o.Configure(c => c.SerializerOptions = Options));
    }
}

/// <summary>
/// The placement core's records are immutable values (init-only properties, read-only collections, changed only with
/// `with`), so a call within a silo may pass the same instance instead of a JSON round trip — a guest crosses three
/// grains per placement.
/// </summary>
public sealed class SharedRecordCopier : IGeneralizedCopier
{
    public bool IsSupportedType(Type type) => PolicyTypesSerialization.IsPolicyType(type);

    public object? DeepCopy(object? input, CopyContext context) => input;
}
