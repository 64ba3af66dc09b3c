using Fabric.Addressing;
using Fabric.HostAgent.Forwarding;
using Fabric.HostAgent.Wire;

namespace Fabric.HostAgent.Status;

/// <summary>
/// What the agent's status file holds (JSON, camelCase): counters, the forwarding tables and the
/// local MACs, as the data plane sees them at <see cref="WrittenAt"/>. Counter maps are keyed
/// <c>received</c>, <c>delivered</c>, <c>encapsulated</c>, <c>flooded</c>, <c>arpSuppressed</c>,
/// <c>drop.{DataPlaneDrop}</c> and <c>malformed.{DropReason}</c> (zero counts omitted).
/// </summary>
/// <param name="HostId">The agent's host id.</param>
/// <param name="WrittenAt">When this status was taken (UTC).</param>
/// <param name="Generation">The switch configuration generation the forwarding tables were built from.</param>
/// <param name="Total">Counters over every port and the VTEP.</param>
/// <param name="Vtep">Counters of the VTEP socket.</param>
/// <param name="Ports">Each local port with its counters.</param>
/// <param name="Segments">Each segment this host forwards, with its flood list, remote MACs and ARP bindings.</param>
/// <param name="LocalMacs">MACs learned on local ports, with the IPv4 addresses they claimed.</param>
/// <param name="ExternalMacs">MACs learned behind external VTEPs from their datagrams (RFC 7348 §4.1).</param>
internal sealed record AgentStatus(
    string HostId,
    DateTimeOffset WrittenAt,
    long Generation,
    IReadOnlyDictionary<string, long> Total,
    IReadOnlyDictionary<string, long> Vtep,
    IReadOnlyList<PortStatus> Ports,
    IReadOnlyList<SegmentStatus> Segments,
    IReadOnlyList<LocalMacStatus> LocalMacs,
    IReadOnlyList<ExternalMacStatus> ExternalMacs)
{
    /// <summary>Reads the live counters and tables of <paramref name="dataPlane"/>.</summary>
    public static AgentStatus Of(string hostId, DataPlane dataPlane, DateTimeOffset now)
    {
        var snapshot = dataPlane.Snapshot;
        var counters = dataPlane.Counters;
        return new AgentStatus(
            hostId,
            now,
            snapshot.Generation,
            counters.Total.Snapshot(),
            counters.Vtep.Snapshot(),
            [.. snapshot.AttachedPorts.Select(p => new PortStatus(p.Name, p.Trunk, dataPlane.Macs.CountOnPort(p.Index), counters.Ports[p.Index].Snapshot()))],
            [.. snapshot.Segments.Values.OrderBy(s => s.Vni).Select(s => new SegmentStatus(
                s.Vni,
                [.. s.LocalPorts.Select(i => snapshot.Ports[i].Name)],
                [.. s.FloodList.Select(v => Ipv4Address.Format(v.Address))],
                s.RemoteMacs.ToDictionary(kv => new MacAddress(kv.Key).ToString(), kv => Ipv4Address.Format(kv.Value.Address)),
                s.ArpBindings.ToDictionary(kv => Ipv4Address.Format(kv.Key), kv => new MacAddress(kv.Value).ToString()),
                s.Counters.Snapshot()))],
            [.. dataPlane.Macs.Entries.Select(e => new LocalMacStatus(
                e.Key.Vni,
                new MacAddress(e.Key.Mac).ToString(),
                e.Value.Port < snapshot.Ports.Length && snapshot.Ports[e.Value.Port].Attached ? snapshot.Ports[e.Value.Port].Name : $"#{e.Value.Port}",
                [.. e.Value.Claims.Select(Ipv4Address.Format)]))],
            [.. dataPlane.External.Entries.Select(e => new ExternalMacStatus(e.Key.Vni, new MacAddress(e.Key.Mac).ToString(), Ipv4Address.Format(e.Value.Vtep)))]);
    }
}

/// <summary>A local port: its interface name, whether it is a trunk, how many MACs it holds, its counters.</summary>
internal sealed record PortStatus(string Name, bool Trunk, int Macs, IReadOnlyDictionary<string, long> Counters);

/// <summary>
/// A segment as this host forwards it: local ports by name, the flood list (VTEP addresses), remote
/// MAC → VTEP, IPv4 → MAC bindings used for ARP suppression, and the segment's counters.
/// </summary>
internal sealed record SegmentStatus(
    uint Vni,
    IReadOnlyList<string> LocalPorts,
    IReadOnlyList<string> FloodList,
    IReadOnlyDictionary<string, string> RemoteMacs,
    IReadOnlyDictionary<string, string> ArpBindings,
    IReadOnlyDictionary<string, long> Counters);

/// <summary>A MAC learned behind an external VTEP (its address) in a VNI.</summary>
internal sealed record ExternalMacStatus(uint Vni, string Mac, string Vtep);

/// <summary>A MAC learned on a local port (by name) in a VNI, with the IPv4 addresses it claimed in ARP.</summary>
internal sealed record LocalMacStatus(uint Vni, string Mac, string Port, IReadOnlyList<string> Ips);
