using Fabric.Addressing;
using Orleans.Concurrency;

namespace Fabric.Grains;

/// <summary>
/// The fabric-wide lists that no single grain key can answer: which switches and hosts exist and
/// which port group owns each VNI (a VNI is a global segment key). Key: 0 (<see cref="Key"/>).
/// Written only by the other grains; read by the API.
/// </summary>
[Alias("fabric.directory")]
public interface IFabricDirectoryGrain : IGrainWithIntegerKey
{
    public const long Key = 0;

    [ReadOnly, Alias("list-switches")]
    Task<IReadOnlyList<string>> ListSwitchesAsync();

    [ReadOnly, Alias("list-hosts")]
    Task<IReadOnlyList<string>> ListHostsAsync();

    [ReadOnly, Alias("list-vni-claims")]
    Task<IReadOnlyList<VniClaim>> ListVniClaimsAsync();

    /// <summary>The owner of a VNI, or null.</summary>
    [ReadOnly, Alias("find-vni")]
    Task<VniClaim?> FindVniAsync(Vni vni);

    [Alias("register-switch")]
    Task RegisterSwitchAsync(string switchName);

    [Alias("unregister-switch")]
    Task UnregisterSwitchAsync(string switchName);

    [Alias("register-host")]
    Task RegisterHostAsync(string hostId);

    [Alias("unregister-host")]
    Task UnregisterHostAsync(string hostId);

    /// <summary>
    /// Claims <paramref name="vni"/> for a port group. Idempotent for the same owner; throws
    /// <see cref="FabricValidationException"/> (field <c>vni</c>) when another port group holds it.
    /// </summary>
    [Alias("claim-vni")]
    Task ClaimVniAsync(Vni vni, string switchName, string portGroup);

    /// <summary>Releases a claim; does nothing unless the given port group holds it.</summary>
    [Alias("release-vni")]
    Task ReleaseVniAsync(Vni vni, string switchName, string portGroup);
}

[GenerateSerializer, Immutable, Alias("fabric.vni-claim")]
public sealed record VniClaim([property: Id(0)] Vni Vni, [property: Id(1)] string Switch, [property: Id(2)] string PortGroup);
