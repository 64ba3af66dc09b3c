using Orleans.Concurrency;

namespace Fabric.Grains;

/// <summary>
/// A distributed switch. Key: the switch name (<see cref="FabricNames"/>). Hard state: every change
/// is persisted before the call returns and bumps <see cref="SwitchConfig.Version"/>.
/// </summary>
[Alias("fabric.switch")]
public interface ISwitchGrain : IGrainWithStringKey
{
    /// <summary>Creates the switch, or updates its settings. Throws <see cref="FabricValidationException"/> on a bad name or MTU.</summary>
    [Alias("configure")]
    Task<SwitchConfig> ConfigureAsync(SwitchSettings settings);

    /// <summary>The configuration, or null if the switch was never created (or was deleted).</summary>
    [ReadOnly, Alias("get")]
    Task<SwitchConfig?> GetAsync();

    /// <summary>
    /// Creates or replaces a port group. The VNI is claimed fabric-wide: a VNI used by another port
    /// group (on this or another switch) is rejected. The VNI of a port group that registered host
    /// ports use cannot change.
    /// </summary>
    [Alias("set-port-group")]
    Task<SwitchConfig> SetPortGroupAsync(string portGroup, PortGroupSpec spec);

    /// <summary>Removes a port group and releases its VNI. Rejected ("in use") while a registered host port uses it.</summary>
    [Alias("remove-port-group")]
    Task<SwitchConfig> RemovePortGroupAsync(string portGroup);

    /// <summary>Adds or updates a member host and its uplink.</summary>
    [Alias("add-host")]
    Task<SwitchConfig> AddHostAsync(string hostId, string uplink);

    [Alias("remove-host")]
    Task<SwitchConfig> RemoveHostAsync(string hostId);

    /// <summary>Deletes the switch. Rejected while port groups remain or host ports are attached.</summary>
    [Alias("delete")]
    Task DeleteAsync();

    /// <summary>
    /// Called by <see cref="IHostGrain"/> on registration: checks that every port group exists and
    /// records that the host's ports use them (so removing a used port group is refused), in one turn.
    /// Not a configuration change: <see cref="SwitchConfig.Version"/> does not move.
    /// </summary>
    [Alias("attach-host-ports")]
    Task<SwitchConfig> AttachHostPortsAsync(string hostId, IReadOnlyList<string> portGroups);

    /// <summary>Called by <see cref="IHostGrain"/> when a host unregisters or moves to another switch.</summary>
    [Alias("detach-host-ports")]
    Task DetachHostPortsAsync(string hostId);

    /// <summary>Which hosts have ports on each port group (port group → host ids).</summary>
    [ReadOnly, Alias("get-port-group-usage")]
    Task<IReadOnlyDictionary<string, IReadOnlyList<string>>> GetPortGroupUsageAsync();
}
