using System.Collections.Frozen;
using System.Net;
using Fabric.HostAgent.Wire;

namespace Fabric.HostAgent.Forwarding;

/// <summary>How one local port maps frames to VNIs and back (from its port group's VLAN policy).</summary>
internal sealed class PortForwarding
{
    /// <summary>The port's slot: its index in <see cref="ForwardingSnapshot.Ports"/>, the counters and the local MAC table.</summary>
    public required int Index { get; init; }

    public required string Name { get; init; }

    /// <summary>False for a free slot (no interface attached): it carries no VNI, so nothing is forwarded to or from it.</summary>
    public bool Attached { get; init; } = true;

    /// <summary>The entry of a free slot.</summary>
    public static PortForwarding Free(int index) => new() { Index = index, Name = string.Empty, Trunk = false, Attached = false };

    /// <summary>A table of <paramref name="capacity"/> slots, all free (see <see cref="ForwardingSnapshot.Ports"/>).</summary>
    public static PortForwarding[] FreeTable(int capacity)
    {
        var table = new PortForwarding[capacity];
        for (int i = 0; i < table.Length; i++)
        {
            table[i] = Free(i);
        }

        return table;
    }

    public required bool Trunk { get; init; }

    /// <summary>Access port: the VNI of untagged frames; 0 when the port group is unknown.</summary>
    public uint AccessVni { get; init; }

    /// <summary>Trunk port: VID → VNI of the port group that has that access VLAN.</summary>
    public FrozenDictionary<ushort, uint> VniByVid { get; init; } = FrozenDictionary<ushort, uint>.Empty;

    /// <summary>Trunk port: VNI → VID to tag frames with on egress (absent: the native VLAN, untagged).</summary>
    public FrozenDictionary<uint, ushort> VidByVni { get; init; } = FrozenDictionary<uint, ushort>.Empty;

    /// <summary>Trunk port: the VNI of untagged frames (the native VLAN's port group), 0 for none.</summary>
    public uint NativeVni { get; init; }

    /// <summary>Port security: most MACs the port may hold (its port group's <c>macLimit</c>).</summary>
    public int MacLimit { get; init; } = 64;

    /// <summary>
    /// Port security, forged transmits (vDS semantics): when false, only frames whose source is the
    /// port's effective MAC are forwarded (<see cref="EffectiveMac"/>, or on an access port without
    /// one the first MAC learned there). Defaults to false, as the port group's policy does.
    /// </summary>
    public bool AllowForgedTransmits { get; init; }

    /// <summary>Port security, promiscuous mode: when true the port receives a copy of every frame of its VNIs that reaches the host.</summary>
    public bool AllowPromiscuous { get; init; }

    /// <summary>The MAC configured on the port (its vNIC's address, as a 48-bit value), 0 when none is configured.</summary>
    public ulong EffectiveMac { get; init; }

    /// <summary>The host's uplink to the physical LAN (bridged port groups): see <see cref="SegmentForwarding.UplinkPort"/>.</summary>
    public bool IsUplink { get; init; }
}

/// <summary>A remote VTEP with its socket address built once, so sending allocates nothing.</summary>
internal sealed class RemoteVtep(uint address, int port)
{
    public uint Address { get; } = address;

    public SocketAddress SocketAddress { get; } = new IPEndPoint(Wire.Ipv4Address.ToIPAddress(address), port).Serialize();
}

/// <summary>One segment as this host forwards it.</summary>
internal sealed class SegmentForwarding
{
    public required uint Vni { get; init; }

    /// <summary>Local ports (indices) that carry this VNI.</summary>
    public required int[] LocalPorts { get; init; }

    /// <summary>Head-end replication list: every other VTEP of the segment.</summary>
    public required RemoteVtep[] FloodList { get; init; }

    /// <summary>Outer source addresses accepted for this VNI.</summary>
    public required FrozenSet<uint> Vteps { get; init; }

    /// <summary>Remote MAC → VTEP, from the MAC table grain.</summary>
    public required FrozenDictionary<ulong, RemoteVtep> RemoteMacs { get; init; }

    /// <summary>IPv4 address → MAC of the segment (MAC table grain's bindings), for ARP suppression.</summary>
    public FrozenDictionary<uint, ulong> ArpBindings { get; init; } = FrozenDictionary<uint, ulong>.Empty;

    /// <summary>
    /// The segment's VTEPs that have no agent (a kernel or hardware VTEP, registered through the API):
    /// the source MACs of their datagrams are learned here and published (RFC 7348 §4.1).
    /// </summary>
    public FrozenSet<uint> ExternalVteps { get; init; } = FrozenSet<uint>.Empty;

    /// <summary>Local ports of the segment in promiscuous mode: each gets a copy of every frame of the VNI that reaches the host.</summary>
    public int[] PromiscuousPorts { get; init; } = [];

    /// <summary>
    /// Which IEEE 802.1Q reserved group addresses 01-80-C2-00-00-0X the segment forwards: bit X set
    /// forwards X (like Linux's bridge <c>group_fwd_mask</c>). 0, the default, forwards none.
    /// </summary>
    public ushort ReservedGroupForwardMask { get; init; }

    public required TrafficCounters Counters { get; init; }

    /// <summary>The segment's anycast gateway when its port group is routed (<see cref="Grains.PortGroup.Routed"/>); null otherwise.</summary>
    public RouterInterface? Router { get; init; }

    /// <summary>The DHCP service of the segment's port group when its pool serves DHCP (<see cref="Grains.Ipv4Pool.Dhcp"/>); null otherwise.</summary>
    public DhcpScope? Dhcp { get; init; }

    /// <summary>
    /// Whether the segment is private to this host (<see cref="Grains.PortGroup.IsHostLocal"/>):
    /// nothing is tunnelled or accepted from a VTEP (its flood list and remote MACs are empty), and
    /// its MACs are not published.
    /// </summary>
    public bool HostLocal { get; init; }

    /// <summary>
    /// A copy for a dry run (<see cref="DataPlane.Trace"/>): the same tables with counters of its own
    /// and <paramref name="router"/> (a fresh copy of <see cref="Router"/>), so running a frame through
    /// it changes nothing the data plane reads. Every property is copied (a unit test holds that).
    /// </summary>
    public SegmentForwarding ForTrace(RouterInterface? router) => new()
    {
        Vni = Vni,
        LocalPorts = LocalPorts,
        FloodList = FloodList,
        Vteps = Vteps,
        RemoteMacs = RemoteMacs,
        ArpBindings = ArpBindings,
        ExternalVteps = ExternalVteps,
        PromiscuousPorts = PromiscuousPorts,
        ReservedGroupForwardMask = ReservedGroupForwardMask,
        Counters = new TrafficCounters(),
        Router = router,
        Dhcp = Dhcp,
        HostLocal = HostLocal,
        UplinkPort = UplinkPort,
    };

    /// <summary>
    /// A bridged segment (<see cref="Grains.NetworkMode.Bridged"/>): the slot of the host's uplink
    /// port, which stands for the whole physical LAN: a VM's unicast to a MAC not on this host goes
    /// there alone (not flooded to the other VMs, as a vSphere switch does with its uplinks), and
    /// from it only frames to this host's VMs (or broadcast and multicast) are taken. -1 otherwise.
    /// </summary>
    public int UplinkPort { get; init; } = -1;
}

/// <summary>
/// What the agent's DHCP server hands out on one segment (RFC 2131, options per RFC 2132): leases from
/// the port group's IPAM pool, with the gateway as router and server identifier; the interface MTU
/// (option 26) is the switch's (<see cref="ForwardingSnapshot.Mtu"/>).
/// </summary>
internal sealed class DhcpScope
{
    /// <summary>The port group (its IPAM grain is <c>switch/portGroup</c>).</summary>
    public required string PortGroup { get; init; }

    /// <summary>The port group's pool: the subnet (option 1, the mask) and the lease time (option 51; T1 and T2, options 58 and 59, are half and seven eighths of it, RFC 2131 §4.4.5).</summary>
    public required Grains.Ipv4Pool Pool { get; init; }

    /// <summary>The pool's gateway, host order: option 3 (router) and option 54 (server identifier), and the replies' source address.</summary>
    public required uint Gateway { get; init; }

    /// <summary>Option 6, at most 8, host order.</summary>
    public required uint[] DnsServers { get; init; }

    /// <summary>The lease time in seconds (<see cref="Grains.Ipv4Pool.LeaseTime"/>).</summary>
    public int LeaseTime => Pool.LeaseTime;

    /// <summary>Whether <paramref name="address"/> (host order) is a host address of the subnet.</summary>
    public bool Contains(uint address) => Pool.Contains(address) && address != Pool.NetworkValue && address != Pool.BroadcastValue;
}

/// <summary>
/// One routed port group as every host's anycast gateway sees it: its VNI, subnet and gateway
/// address (host order). Holds a small table of the addresses it recently asked for with ARP, so a
/// burst of packets to an unresolved address sends one request, not one per packet.
/// </summary>
internal sealed class RouterInterface
{
    /// <summary>How many unresolved addresses the ARP rate limit tracks at once (a hash table without chaining).</summary>
    public const int ResolveSlots = 64;

    /// <summary>An ARP request for one address goes out at most this often, in milliseconds (a second, as Linux's neighbour retransmit time).</summary>
    public const long ResolveIntervalMs = 1000;

    public required uint Vni { get; init; }

    /// <summary>The gateway address, host order.</summary>
    public required uint Gateway { get; init; }

    /// <summary>The subnet's network address, host order.</summary>
    public required uint Network { get; init; }

    /// <summary>The subnet mask, host order.</summary>
    public required uint Mask { get; init; }

    /// <summary>The subnet's broadcast address, host order.</summary>
    public uint Broadcast => Network | ~Mask;

    /// <summary>Whether <paramref name="address"/> (host order) is in the subnet.</summary>
    public bool Contains(uint address) => (address & Mask) == Network;

    /// <summary>The same interface with an empty ARP rate-limit table, for a dry run (<see cref="DataPlane.Trace"/>).</summary>
    public RouterInterface ForTrace() => new() { Vni = Vni, Gateway = Gateway, Network = Network, Mask = Mask };

    private readonly uint[] _resolving = new uint[ResolveSlots];
    private readonly long[] _resolvedAt = new long[ResolveSlots];

    /// <summary>
    /// Whether an ARP request for <paramref name="target"/> may go out now (none for it in the last
    /// <see cref="ResolveIntervalMs"/>), and if so records it. Races between receive threads may send
    /// one request twice; that is harmless.
    /// </summary>
    public bool ShouldResolve(uint target, long nowMs)
    {
        int slot = (int)((target * 2654435761u) >> 26);
        if (Volatile.Read(ref _resolving[slot]) == target && nowMs - Volatile.Read(ref _resolvedAt[slot]) < ResolveIntervalMs)
        {
            return false;
        }

        Volatile.Write(ref _resolving[slot], target);
        Volatile.Write(ref _resolvedAt[slot], nowMs);
        return true;
    }
}

/// <summary>
/// Everything the data plane reads per frame, immutable and replaced whole by the control plane
/// (copy-on-write), so readers never wait and never see half an update.
/// </summary>
internal sealed class ForwardingSnapshot
{
    public static ForwardingSnapshot Empty(PortForwarding[] ports) => new()
    {
        Ports = ports,
        Segments = FrozenDictionary<uint, SegmentForwarding>.Empty,
        Generation = 0,
    };

    /// <summary>
    /// Every port slot of the agent by index (<c>Fabric:Agent:MaxPorts</c> of them in the agent; a
    /// free slot has an entry with <see cref="PortForwarding.Attached"/> false), so any slot a local
    /// MAC or a receive thread names can be read without a bounds check failing.
    /// </summary>
    public required PortForwarding[] Ports { get; init; }

    /// <summary>The attached ports, in slot order.</summary>
    public IEnumerable<PortForwarding> AttachedPorts => Ports.Where(p => p.Attached);

    public required FrozenDictionary<uint, SegmentForwarding> Segments { get; init; }

    /// <summary>The switch configuration version this snapshot was built from.</summary>
    public required long Generation { get; init; }

    /// <summary>
    /// The largest inner frame the segments carry, in bytes: the switch's MTU plus the 14-byte
    /// Ethernet header (1450 + 14 by default). Super-frames are cut into segments no larger.
    /// </summary>
    public int MaxInnerFrameLength { get; init; } = 1450 + EthernetFrame.HeaderLength;

    /// <summary>The switch's MTU in bytes: the largest IPv4 packet the gateway routes without fragmentation-needed (RFC 1191).</summary>
    public int Mtu => MaxInnerFrameLength - EthernetFrame.HeaderLength;

    /// <summary>
    /// A copy for a dry run (<see cref="DataPlane.Trace"/>): the same tables, with segments that count
    /// into counters of their own and gateways with rate-limit state of their own.
    /// </summary>
    public ForwardingSnapshot ForTrace()
    {
        var routers = new Dictionary<RouterInterface, RouterInterface>(ReferenceEqualityComparer.Instance);
        RouterInterface CopyOf(RouterInterface router)
        {
            if (!routers.TryGetValue(router, out var copy))
            {
                routers[router] = copy = router.ForTrace();
            }

            return copy;
        }

        return new ForwardingSnapshot
        {
            Ports = Ports,
            Segments = Segments.ToFrozenDictionary(kv => kv.Key, kv => kv.Value.ForTrace(kv.Value.Router is { } r ? CopyOf(r) : null)),
            Generation = Generation,
            MaxInnerFrameLength = MaxInnerFrameLength,
            Routes = [.. Routes.Select(CopyOf)],
        };
    }

    /// <summary>
    /// The routing domain this host routes in: the routed port groups of its switch, when one of
    /// its ports is in one; empty otherwise. Subnets of one switch never overlap, so an address
    /// matches at most one.
    /// </summary>
    public RouterInterface[] Routes { get; init; } = [];

    /// <summary>
    /// The switch's remote mirror sessions of this host's ports (<see cref="Grains.MirrorSession"/>), in
    /// session order; the data plane makes their sinks when they change (<see cref="DataPlane.Publish"/>).
    /// </summary>
    public Mirroring.RemoteMirrorSpec[] RemoteMirrors { get; init; } = [];
}
