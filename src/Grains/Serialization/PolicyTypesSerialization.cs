using System.Text.Json;
using System.Text.Json.Serialization;
using Orleans.Serialization;

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

    public static ISerializerBuilder AddPolicyTypes(this ISerializerBuilder builder) =>
        builder.AddJsonSerializer(isSupported: IsPolicyType, jsonSerializerOptions: Options);
}
