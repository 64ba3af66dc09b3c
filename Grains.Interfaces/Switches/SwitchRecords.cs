using Fabric.Addressing;

namespace Fabric.Grains;

/// <summary>What an operator sets on a switch as a whole.</summary>
[GenerateSerializer, Immutable, Alias("fabric.switch-settings")]
public sealed record SwitchSettings([property: Id(0)] int Mtu)
{
    public const int MinMtu = 576;
    public const int MaxMtu = 9216;
}

/// <summary>
/// A switch's whole configuration. <see cref="Version"/> is the configuration generation: it grows
/// by one on every change, agents report the generation they have applied.
/// </summary>
[GenerateSerializer, Immutable, Alias("fabric.switch-config")]
public sealed record SwitchConfig(
    [property: Id(0)] string Name,
    [property: Id(1)] int Mtu,
    [property: Id(2)] long Version,
    [property: Id(3)] IReadOnlyList<PortGroup> PortGroups,
    [property: Id(4)] IReadOnlyList<SwitchMember> Members);

/// <summary>A host that is a member of the switch, with the uplink interface it uses for the underlay.</summary>
[GenerateSerializer, Immutable, Alias("fabric.switch-member")]
public sealed record SwitchMember([property: Id(0)] string HostId, [property: Id(1)] string Uplink);

/// <summary>A port group: ports attached to it are in the VXLAN segment <see cref="Vni"/>.</summary>
[GenerateSerializer, Immutable, Alias("fabric.port-group")]
public sealed record PortGroup(
    [property: Id(0)] string Name,
    [property: Id(1)] Vni Vni,
    [property: Id(2)] VlanPolicy Vlan,
    [property: Id(3)] SecurityPolicy Security);

/// <summary>What an operator gives for a port group; null policies take the defaults.</summary>
[GenerateSerializer, Immutable, Alias("fabric.port-group-spec")]
public sealed record PortGroupSpec(
    [property: Id(0)] Vni Vni,
    [property: Id(1)] VlanPolicy? Vlan = null,
    [property: Id(2)] SecurityPolicy? Security = null);

[GenerateSerializer, Alias("fabric.vlan-mode")]
public enum VlanMode
{
    /// <summary>Frames on the port are untagged (or tagged with <see cref="VlanPolicy.AccessVlan"/> towards the guest).</summary>
    Access = 0,

    /// <summary>802.1Q-tagged frames with a VLAN in <see cref="VlanPolicy.TrunkRanges"/> pass; untagged frames are the native VLAN.</summary>
    Trunk = 1,
}

/// <summary>
/// VLAN handling of a port group. Access: <see cref="AccessVlan"/> null means untagged, no trunk
/// ranges, no native VLAN. Trunk: one or more non-overlapping ranges, optional native VLAN inside them.
/// </summary>
[GenerateSerializer, Immutable, Alias("fabric.vlan-policy")]
public sealed record VlanPolicy(
    [property: Id(0)] VlanMode Mode,
    [property: Id(1)] VlanId? AccessVlan,
    [property: Id(2)] IReadOnlyList<VlanRange> TrunkRanges,
    [property: Id(3)] VlanId? NativeVlan)
{
    /// <summary>Access, untagged: the default.</summary>
    public static VlanPolicy Untagged { get; } = new(VlanMode.Access, null, [], null);

    public static VlanPolicy AccessOn(VlanId vlan) => new(VlanMode.Access, vlan, [], null);

    public static VlanPolicy Trunk(IReadOnlyList<VlanRange> ranges, VlanId? native = null) => new(VlanMode.Trunk, null, ranges, native);
}

/// <summary>An inclusive range of VLAN ids.</summary>
[GenerateSerializer, Immutable, Alias("fabric.vlan-range")]
public sealed record VlanRange([property: Id(0)] VlanId First, [property: Id(1)] VlanId Last);

/// <summary>Port security, as on a vSphere distributed port group.</summary>
[GenerateSerializer, Immutable, Alias("fabric.security-policy")]
public sealed record SecurityPolicy(
    [property: Id(0)] int MacLimit,
    [property: Id(1)] bool AllowForgedTransmits,
    [property: Id(2)] bool AllowPromiscuous)
{
    public const int MinMacLimit = 1;
    public const int MaxMacLimit = 4096;

    /// <summary>64 MACs per port, no forged transmits, no promiscuous mode.</summary>
    public static SecurityPolicy Default { get; } = new(64, false, false);
}
