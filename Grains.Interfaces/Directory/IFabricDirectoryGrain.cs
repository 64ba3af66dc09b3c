using Fabric.Addressing;
using Orleans.Concurrency;

namespace Fabric.Grains;

/// <summary>
/// The fabric-wide lists that no single grain key can answer: which switches and hosts exist and
/// which port group owns each VNI (a VNI is a global segment key). One grain, key 0
/// (<see cref="Key"/>). Hard state: every change is persisted before the call returns.
/// </summary>
/// <remarks>
/// Written only by the other grains (the switch and host grains), read by the management API. It
/// calls no grain, so it is never part of a call cycle. The write methods do not validate names:
/// their callers have. A failed storage write throws the storage provider's exception (for example
/// <c>Orleans.Storage.InconsistentStateException</c> on a conflicting write) and the activation is
/// dropped, so the next call reads what was stored.
/// </remarks>
[Alias("fabric.directory")]
public interface IFabricDirectoryGrain : IGrainWithIntegerKey
{
    /// <summary>The key of the one directory grain: 0.</summary>
    public const long Key = 0;

    /// <summary>
    /// The switches, by name in ordinal order. A switch is listed just before its first write, so a
    /// listed name whose <see cref="ISwitchGrain.GetAsync"/> answers null (that write failed) is not a switch.
    /// </summary>
    /// <returns>Switch names, possibly empty.</returns>
    [ReadOnly, Alias("list-switches")]
    Task<IReadOnlyList<string>> ListSwitchesAsync();

    /// <summary>The registered hosts, by id in ordinal order, alive or dead.</summary>
    /// <returns>Host ids, possibly empty.</returns>
    [ReadOnly, Alias("list-hosts")]
    Task<IReadOnlyList<string>> ListHostsAsync();

    /// <summary>Every claimed VNI with its owner, in VNI order.</summary>
    /// <returns>The claims, possibly empty.</returns>
    [ReadOnly, Alias("list-vni-claims")]
    Task<IReadOnlyList<VniClaim>> ListVniClaimsAsync();

    /// <summary>
    /// The owner of <paramref name="vni"/>, or null. A claim can outlive a port group write that
    /// failed after claiming (storage down mid-call); check the switch has the port group before
    /// showing it as a segment.
    /// </summary>
    /// <param name="vni">The VNI to look up.</param>
    /// <returns>The claim, or null when no port group holds the VNI.</returns>
    [ReadOnly, Alias("find-vni")]
    Task<VniClaim?> FindVniAsync(Vni vni);

    /// <summary>Lists a switch. Idempotent.</summary>
    /// <param name="switchName">A name that follows <see cref="FabricNames"/> (not checked here).</param>
    /// <returns>A task that completes once the list is persisted.</returns>
    [Alias("register-switch")]
    Task RegisterSwitchAsync(string switchName);

    /// <summary>Removes a switch from the list; does nothing if it is not listed.</summary>
    /// <param name="switchName">The switch name.</param>
    /// <returns>A task that completes once the list is persisted.</returns>
    [Alias("unregister-switch")]
    Task UnregisterSwitchAsync(string switchName);

    /// <summary>Lists a registered host. Idempotent.</summary>
    /// <param name="hostId">A host id that follows <see cref="FabricNames"/> (not checked here).</param>
    /// <returns>A task that completes once the list is persisted.</returns>
    [Alias("register-host")]
    Task RegisterHostAsync(string hostId);

    /// <summary>Removes a host from the list; does nothing if it is not listed.</summary>
    /// <param name="hostId">The host id.</param>
    /// <returns>A task that completes once the list is persisted.</returns>
    [Alias("unregister-host")]
    Task UnregisterHostAsync(string hostId);

    /// <summary>
    /// Claims <paramref name="vni"/> for a port group: a VNI names one segment in the whole fabric.
    /// Idempotent for the same owner.
    /// </summary>
    /// <param name="vni">A valid VNI (not checked here; the switch grain has).</param>
    /// <param name="switchName">The switch of the claiming port group.</param>
    /// <param name="portGroup">The claiming port group.</param>
    /// <returns>A task that completes once the claim is persisted.</returns>
    /// <exception cref="FabricValidationException">Field <c>vni</c>: another port group, on this or another switch, holds the VNI.</exception>
    [Alias("claim-vni")]
    Task ClaimVniAsync(Vni vni, string switchName, string portGroup);

    /// <summary>Releases a claim; does nothing unless the given port group holds it.</summary>
    /// <param name="vni">The claimed VNI.</param>
    /// <param name="switchName">The switch of the port group that holds it.</param>
    /// <param name="portGroup">The port group that holds it.</param>
    /// <returns>A task that completes once the release is persisted.</returns>
    [Alias("release-vni")]
    Task ReleaseVniAsync(Vni vni, string switchName, string portGroup);
}

/// <summary>Which port group holds a VNI.</summary>
/// <param name="Vni">The claimed VNI, 1..16777215.</param>
/// <param name="Switch">The switch name.</param>
/// <param name="PortGroup">The port group name on that switch.</param>
[GenerateSerializer, Immutable, Alias("fabric.vni-claim")]
public sealed record VniClaim([property: Id(0)] Vni Vni, [property: Id(1)] string Switch, [property: Id(2)] string PortGroup);
