using Orleans.Concurrency;

namespace Fabric.Grains;

/// <summary>
/// A distributed switch (as a vSphere Distributed Switch: one definition shared by many hosts).
/// Key: the switch name (a name that follows <see cref="FabricNames"/>). Hard state: every change is
/// persisted before the call returns and bumps <see cref="SwitchConfig.Version"/>, the switch's
/// configuration generation.
/// </summary>
/// <remarks>
/// The switch grain calls only the directory (which calls nobody), so host grains may call in
/// freely. Every method but <see cref="ConfigureAsync"/>, <see cref="GetAsync"/>,
/// <see cref="DetachHostPortsAsync"/> and <see cref="GetPortGroupUsageAsync"/> throws
/// <see cref="FabricNotFoundException"/> (kind <c>switch</c>) when the switch does not exist. A
/// failed storage write throws the storage provider's exception (for example
/// <c>Orleans.Storage.InconsistentStateException</c>) and the activation is dropped, so the next
/// call reads what was stored.
/// </remarks>
[Alias("fabric.switch")]
public interface ISwitchGrain : IGrainWithStringKey
{
    /// <summary>
    /// Creates the switch (listing it in the directory), or updates its settings. The same settings
    /// on an existing switch change nothing.
    /// </summary>
    /// <param name="settings">The switch-wide settings.</param>
    /// <returns>The configuration after the change.</returns>
    /// <exception cref="FabricValidationException">
    /// The key is not a valid name (field <c>name</c>), <paramref name="settings"/> is null
    /// (<c>settings</c>), or the MTU is outside <see cref="SwitchSettings.MinMtu"/>..<see cref="SwitchSettings.MaxMtu"/> (<c>mtu</c>).
    /// </exception>
    [Alias("configure")]
    Task<SwitchConfig> ConfigureAsync(SwitchSettings settings);

    /// <summary>The configuration, or null if the switch was never created (or was deleted).</summary>
    /// <returns>The configuration, or null.</returns>
    [ReadOnly, Alias("get")]
    Task<SwitchConfig?> GetAsync();

    /// <summary>
    /// Creates or replaces a port group. The specification is validated and normalised (null
    /// policies take their defaults, trunk ranges are sorted); an identical port group changes
    /// nothing. The VNI is claimed fabric-wide in the directory: a VNI used by another port group,
    /// on this or another switch, is refused. The VNI of a port group that registered host ports
    /// use cannot change.
    /// </summary>
    /// <param name="portGroup">The port group name; follows <see cref="FabricNames"/>.</param>
    /// <param name="spec">The VNI and the VLAN and security policies.</param>
    /// <returns>The configuration after the change.</returns>
    /// <exception cref="FabricValidationException">
    /// Nothing is changed when: the name is invalid (field <c>portGroup</c>); <paramref name="spec"/>
    /// is null (<c>spec</c>); the VNI is outside 1..16777215 (RFC 7348 §5), used by another port
    /// group, or would change while host ports use the port group (<c>vni</c>); a VLAN id is outside
    /// 1..4094 (IEEE 802.1Q) or the VLAN policy is inconsistent (<c>vlan.mode</c>,
    /// <c>vlan.accessVlan</c>, <c>vlan.trunkRanges</c>, <c>vlan.nativeVlan</c>; see
    /// <see cref="VlanPolicy"/>); the access VLAN is another port group's on this switch
    /// (<c>vlan.accessVlan</c>); the MAC limit is outside
    /// <see cref="SecurityPolicy.MinMacLimit"/>..<see cref="SecurityPolicy.MaxMacLimit"/> (<c>security.macLimit</c>).
    /// </exception>
    /// <exception cref="FabricNotFoundException">Kind <c>switch</c>: the switch does not exist.</exception>
    [Alias("set-port-group")]
    Task<SwitchConfig> SetPortGroupAsync(string portGroup, PortGroupSpec spec);

    /// <summary>Removes a port group and releases its VNI.</summary>
    /// <param name="portGroup">The port group name.</param>
    /// <returns>The configuration after the change.</returns>
    /// <exception cref="FabricNotFoundException">Kind <c>switch</c> or <c>port group</c>: either does not exist.</exception>
    /// <exception cref="FabricValidationException">Field <c>portGroup</c>: a registered host's port uses it.</exception>
    [Alias("remove-port-group")]
    Task<SwitchConfig> RemovePortGroupAsync(string portGroup);

    /// <summary>
    /// Adds or replaces a remote port mirroring session (<see cref="MirrorSession"/>): a new
    /// configuration generation, which the session's host applies; the same session again changes nothing.
    /// </summary>
    /// <param name="session">The session.</param>
    /// <returns>The configuration after the change.</returns>
    /// <exception cref="FabricValidationException">A field of the session is invalid (named as in <see cref="MirrorSession.Validate"/>); <c>vni</c>: a VXLAN mirror's VNI is one of the switch's segments; <c>name</c>: the switch holds <see cref="MirrorSession.MaxPerSwitch"/> already.</exception>
    /// <exception cref="FabricNotFoundException">Kind <c>switch</c>: the switch does not exist.</exception>
    [Alias("set-mirror")]
    Task<SwitchConfig> SetMirrorAsync(MirrorSession session);

    /// <summary>Removes a remote port mirroring session.</summary>
    /// <param name="name">The session name.</param>
    /// <returns>The configuration after the change.</returns>
    /// <exception cref="FabricNotFoundException">Kind <c>switch</c> or <c>mirror session</c>: either does not exist.</exception>
    [Alias("remove-mirror")]
    Task<SwitchConfig> RemoveMirrorAsync(string name);

    /// <summary>
    /// Adds or updates a member host and its uplink; the same uplink again changes nothing. Members
    /// are a record for operators: registering a host does not require it.
    /// </summary>
    /// <param name="hostId">The host id; follows <see cref="FabricNames"/>.</param>
    /// <param name="uplink">The host's underlay interface name; follows <see cref="FabricNames"/>.</param>
    /// <returns>The configuration after the change.</returns>
    /// <exception cref="FabricValidationException">Field <c>hostId</c> or <c>uplink</c>: not a valid name.</exception>
    /// <exception cref="FabricNotFoundException">Kind <c>switch</c>: the switch does not exist.</exception>
    [Alias("add-host")]
    Task<SwitchConfig> AddHostAsync(string hostId, string uplink);

    /// <summary>Removes a member host. Its registration, if any, is not affected.</summary>
    /// <param name="hostId">The member's host id.</param>
    /// <returns>The configuration after the change.</returns>
    /// <exception cref="FabricNotFoundException">Kind <c>switch</c>: the switch does not exist; kind <c>host</c>: the host is not a member.</exception>
    [Alias("remove-host")]
    Task<SwitchConfig> RemoveHostAsync(string hostId);

    /// <summary>
    /// Deletes the switch and removes it from the directory. Its version survives, so a switch
    /// created again under the same name continues the generations instead of repeating them.
    /// </summary>
    /// <returns>A task that completes once the deletion is persisted.</returns>
    /// <exception cref="FabricNotFoundException">Kind <c>switch</c>: the switch does not exist.</exception>
    /// <exception cref="FabricValidationException">Field <c>portGroups</c>: port groups remain; field <c>hosts</c>: registered hosts have ports on it.</exception>
    [Alias("delete")]
    Task DeleteAsync();

    /// <summary>
    /// Called by <see cref="IHostGrain"/> on registration: checks that every port group exists and
    /// records that the host's ports use them (so removing a used port group is refused), in one turn.
    /// Not a configuration change: <see cref="SwitchConfig.Version"/> does not move.
    /// </summary>
    /// <param name="hostId">The registering host; follows <see cref="FabricNames"/>.</param>
    /// <param name="portGroups">The port groups its ports use; duplicates are allowed; replaces what was recorded for the host.</param>
    /// <returns>The configuration, from which the host takes each port group's VNI.</returns>
    /// <exception cref="FabricValidationException">Field <c>hostId</c>: not a valid name; field <c>portGroups</c>: null.</exception>
    /// <exception cref="FabricNotFoundException">Kind <c>switch</c> or <c>port group</c>: the switch or one of the port groups does not exist.</exception>
    [Alias("attach-host-ports")]
    Task<SwitchConfig> AttachHostPortsAsync(string hostId, IReadOnlyList<string> portGroups);

    /// <summary>
    /// Called by <see cref="IHostGrain"/> when a host unregisters or moves to another switch: forgets
    /// which port groups it used. Does nothing for an unknown host, or when the switch does not exist.
    /// </summary>
    /// <param name="hostId">The host id.</param>
    /// <returns>A task that completes once the change is persisted.</returns>
    [Alias("detach-host-ports")]
    Task DetachHostPortsAsync(string hostId);

    /// <summary>Which registered hosts have ports on each port group.</summary>
    /// <returns>Every port group of the switch → host ids (empty when unused); empty when the switch does not exist.</returns>
    [ReadOnly, Alias("get-port-group-usage")]
    Task<IReadOnlyDictionary<string, IReadOnlyList<string>>> GetPortGroupUsageAsync();
}
