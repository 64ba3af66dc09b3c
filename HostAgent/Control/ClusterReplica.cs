using System.Net;
using Fabric.Addressing;
using Fabric.Grains;
using Fabric.HostAgent.Configuration;
using Fabric.HostAgent.Forwarding;
using Fabric.HostAgent.Wire;

namespace Fabric.HostAgent.Control;

/// <summary>What applying a delta did (docs/architecture.md, "Rules": pushes are hints).</summary>
internal enum DeltaOutcome
{
    /// <summary>The delta followed the replica's version and was applied.</summary>
    Applied,

    /// <summary>Already reflected (a version at or below ours, same activation): ignored.</summary>
    Old,

    /// <summary>A version gap, a new activation (epoch), or a VNI we hold nothing of: the whole snapshot must be fetched.</summary>
    Gap,
}

/// <summary>The version of one replicated grain: its activation epoch and the version within it.</summary>
internal readonly record struct ReplicaVersion(Guid Epoch, long Version)
{
    /// <summary>
    /// The one rule for deltas: the next version of the same activation applies; an older one of the
    /// same activation is ignored; anything else (a gap, another epoch, nothing known) asks for the
    /// snapshot. Deltas can arrive out of order through different gateways, so "older" is not an error.
    /// </summary>
    public static DeltaOutcome Classify(ReplicaVersion? known, Guid epoch, long version)
    {
        if (known is not { } k || k.Epoch != epoch)
        {
            return DeltaOutcome.Gap;
        }

        if (version == k.Version + 1)
        {
            return DeltaOutcome.Applied;
        }

        return version <= k.Version ? DeltaOutcome.Old : DeltaOutcome.Gap;
    }

    /// <summary>Whether a snapshot at (<paramref name="epoch"/>, <paramref name="version"/>) replaces what we hold: a new activation or a newer version.</summary>
    public static bool Supersedes(ReplicaVersion? known, Guid epoch, long version)
        => known is not { } k || k.Epoch != epoch || version > k.Version;
}

/// <summary>
/// What applying cluster state means for the local MAC table, collected for the caller to carry out:
/// MACs that another host now holds (stop delivering them locally, RFC 7432 §15), and IPv4 claims
/// that the fabric bound to another MAC (the local MAC's next claim of the address is news again).
/// </summary>
internal sealed class LocalEffects
{
    /// <summary>Local MACs whose MAC table entry now names another host.</summary>
    public List<MacKey> MovedAway { get; } = [];

    /// <summary>(MAC, IPv4 in host order) pairs whose binding moved to another MAC or was removed.</summary>
    public List<(MacKey Mac, uint Ipv4)> ClaimsLost { get; } = [];

    /// <summary>Carries the effects out on <paramref name="macs"/>.</summary>
    public void ApplyTo(LocalMacTable macs)
    {
        foreach (var key in MovedAway)
        {
            macs.Forget(key.Vni, key.Mac);
        }

        foreach (var (key, ip) in ClaimsLost)
        {
            macs.Release(key.Vni, key.Mac, ip);
        }
    }
}

/// <summary>A local port by its slot (its index in the forwarding tables, counters and local MAC table) and what it is bound to.</summary>
internal readonly record struct SlotBinding(int Slot, PortBindingOptions Binding);

/// <summary>
/// The host's replica of the cluster state it forwards on: the switch configuration, and for every
/// VNI its ports carry the segment's flood list and the MAC table (entries and IP bindings), each
/// with its <see cref="ReplicaVersion"/>. Applies snapshots and pushed deltas with the version rule
/// written once (<see cref="ReplicaVersion.Classify"/>) and builds the <see cref="ForwardingSnapshot"/>
/// the data plane reads. Pure: no grain calls, no locks, no clock; the caller serializes access.
/// </summary>
internal sealed class ClusterReplica(string hostId, uint ownVtep, IReadOnlyList<PortBindingOptions> bindings, int vxlanPort, int capacity = 0)
{
    private readonly int _capacity = Math.Max(capacity, bindings.Count);
    private IReadOnlyList<SlotBinding> _slots = [.. bindings.Select((b, i) => new SlotBinding(i, b))];
    private readonly Dictionary<uint, SegmentSnapshot> _segments = [];
    private readonly Dictionary<uint, Dictionary<MacAddress, MacEntry>> _macs = [];
    private readonly Dictionary<uint, ReplicaVersion> _macVersions = [];
    private readonly Dictionary<uint, Dictionary<IPAddress, MacAddress>> _bindings = [];
    private readonly Dictionary<uint, HashSet<IPAddress>> _duplicates = [];
    private readonly HashSet<uint> _stale = [];
    private readonly Dictionary<uint, RemoteVtep> _vtepCache = [];
    private HashSet<uint> _vnis = [];

    /// <summary>The switch configuration in force, null before the first <see cref="Configure"/>.</summary>
    public SwitchConfig? Switch { get; private set; }

    /// <summary>How each port slot maps frames to VNIs, by slot (free slots included, see <see cref="ForwardingSnapshot.Ports"/>).</summary>
    public PortForwarding[] Ports { get; private set; } = [];

    /// <summary>The attached ports by slot, as last set (the configured ones in slots 0..n-1 at first).</summary>
    public IReadOnlyList<SlotBinding> Bindings => _slots;

    /// <summary>
    /// Replaces the attached ports (a port attached or detached at run time); they are mapped to
    /// VNIs by the next <see cref="Configure"/>.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">A slot outside 0..capacity-1.</exception>
    public void SetPorts(IReadOnlyList<SlotBinding> ports)
    {
        foreach (var port in ports)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(port.Slot);
            ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(port.Slot, _capacity);
        }

        _slots = ports;
    }

    /// <summary>Every VNI some port carries: the segments and MAC tables to subscribe to.</summary>
    public IReadOnlySet<uint> Vnis => _vnis;

    /// <summary>VNIs whose segment or MAC table needs a snapshot, without taking them.</summary>
    public bool HasStale => _stale.Count != 0;

    /// <summary>
    /// Takes <paramref name="config"/> as the switch configuration: maps every port to its VNIs and
    /// drops what we held of VNIs no port carries any more. Returns the ports to register with the
    /// host grain: each port by its port group, and a trunk also as one sub-port per carried port
    /// group (<c>{interface}.{vid}</c>), so the host joins (and on death leaves) every segment the
    /// trunk carries. <paramref name="unknownGroups"/> receives the ports whose port group does not exist.
    /// </summary>
    public IReadOnlyList<HostPort> Configure(SwitchConfig config, List<PortForwarding> unknownGroups)
    {
        var ports = PortForwarding.FreeTable(_capacity);
        var hostPorts = new List<HostPort>();
        foreach (var (slot, binding) in _slots)
        {
            var port = ports[slot] = ForwardingBuilder.BuildPort(slot, binding, config);
            if (config.PortGroups.Any(g => g.Name == binding.PortGroup))
            {
                hostPorts.Add(new HostPort(binding.Interface, binding.PortGroup));
            }
            else
            {
                unknownGroups.Add(port);
            }

            foreach (var (vid, vni) in port.VniByVid)
            {
                var carried = config.PortGroups.First(g => g.Vni.Value == vni);
                hostPorts.Add(new HostPort($"{binding.Interface}.{vid}", carried.Name));
            }
        }

        Switch = config;
        Ports = ports;
        _vnis = RoutingDomain.VnisOfHost(config, ports.SelectMany(ForwardingBuilder.VnisOf)).ToHashSet();
        foreach (uint vni in _segments.Keys.Concat(_macs.Keys).Where(v => !_vnis.Contains(v)).ToArray())
        {
            _segments.Remove(vni);
            _macs.Remove(vni);
            _macVersions.Remove(vni);
            _bindings.Remove(vni);
            _duplicates.Remove(vni);
        }

        _stale.RemoveWhere(v => !_vnis.Contains(v));
        return hostPorts;
    }

    /// <summary>Whether local port <paramref name="port"/> carries <paramref name="vni"/> under the current configuration.</summary>
    public bool Carries(int port, uint vni) => port < Ports.Length && ForwardingBuilder.VnisOf(Ports[port]).Contains(vni);

    /// <summary>
    /// Takes a segment snapshot: always when <paramref name="replace"/> (a fresh fetch), otherwise
    /// only when it supersedes ours (a renewal's answer). True when it was taken.
    /// </summary>
    public bool ApplySnapshot(SegmentSnapshot snapshot, bool replace)
    {
        uint vni = snapshot.Vni.Value;
        if (!_vnis.Contains(vni))
        {
            return false;
        }

        ReplicaVersion? known = _segments.TryGetValue(vni, out var current) ? new ReplicaVersion(current.Epoch, current.Version) : null;
        if (!replace && !ReplicaVersion.Supersedes(known, snapshot.Epoch, snapshot.Version))
        {
            return false;
        }

        _segments[vni] = snapshot;
        return true;
    }

    /// <summary>
    /// Takes a MAC table snapshot under the same rule as <see cref="ApplySnapshot(SegmentSnapshot, bool)"/>;
    /// <paramref name="effects"/> receives the MACs held by other hosts and the bindings we lost.
    /// </summary>
    public bool ApplySnapshot(MacTableSnapshot snapshot, bool replace, LocalEffects effects)
    {
        uint vni = snapshot.Vni.Value;
        if (!_vnis.Contains(vni))
        {
            return false;
        }

        ReplicaVersion? known = _macVersions.TryGetValue(vni, out var version) ? version : null;
        if (!replace && !ReplicaVersion.Supersedes(known, snapshot.Epoch, snapshot.Version))
        {
            return false;
        }

        var bindings = snapshot.IpBindings.ToDictionary(b => b.Ip, b => b.Mac);
        if (_bindings.TryGetValue(vni, out var previous))
        {
            foreach (var (ip, mac) in previous)
            {
                if (!bindings.TryGetValue(ip, out var now) || now != mac)
                {
                    effects.ClaimsLost.Add((new MacKey(vni, mac.Value), Ipv4Address.FromIPAddress(ip)));
                }
            }
        }

        _macs[vni] = snapshot.Entries.ToDictionary(e => e.Mac);
        _macVersions[vni] = new ReplicaVersion(snapshot.Epoch, snapshot.Version);
        _bindings[vni] = bindings;
        _duplicates[vni] = [.. snapshot.IpBindings.Where(b => b.Duplicate).Select(b => b.Ip)];
        foreach (var entry in snapshot.Entries)
        {
            if (entry.HostId != hostId)
            {
                effects.MovedAway.Add(new MacKey(vni, entry.Mac.Value));
            }
        }

        return true;
    }

    /// <summary>Applies a flood-list change; on <see cref="DeltaOutcome.Gap"/> the VNI is marked stale.</summary>
    public DeltaOutcome Apply(SegmentDelta delta)
    {
        uint vni = delta.Vni.Value;
        if (!_vnis.Contains(vni))
        {
            return DeltaOutcome.Old; // not ours (any more): nothing to fetch either
        }

        _segments.TryGetValue(vni, out var known);
        var outcome = ReplicaVersion.Classify(known is null ? null : new ReplicaVersion(known.Epoch, known.Version), delta.Epoch, delta.Version);
        if (outcome == DeltaOutcome.Gap)
        {
            _stale.Add(vni);
        }

        if (outcome != DeltaOutcome.Applied)
        {
            return outcome;
        }

        var list = known!.FloodList.ToList();
        if (delta.Removed is { } removed)
        {
            list.RemoveAll(e => e.HostId == removed.HostId);
        }

        if (delta.Added is { } added)
        {
            list.RemoveAll(e => e.HostId == added.HostId);
            list.Add(added);
        }

        _segments[vni] = known with { Version = delta.Version, FloodList = list };
        return outcome;
    }

    /// <summary>
    /// Applies MAC table changes; on <see cref="DeltaOutcome.Gap"/> the VNI is marked stale.
    /// <paramref name="effects"/> receives MACs that moved away from us and bindings we lost.
    /// </summary>
    public DeltaOutcome Apply(MacTableDelta delta, LocalEffects effects)
    {
        uint vni = delta.Vni.Value;
        if (!_vnis.Contains(vni))
        {
            return DeltaOutcome.Old;
        }

        var outcome = ReplicaVersion.Classify(_macVersions.TryGetValue(vni, out var known) ? known : null, delta.Epoch, delta.Version);
        if (outcome == DeltaOutcome.Gap)
        {
            _stale.Add(vni);
        }

        if (outcome != DeltaOutcome.Applied)
        {
            return outcome;
        }

        var table = _macs[vni];
        foreach (var change in delta.Changes)
        {
            if (change.Kind == MacChangeKind.Removed)
            {
                table.Remove(change.Entry.Mac);
                continue;
            }

            table[change.Entry.Mac] = change.Entry;
            if (change.Entry.HostId != hostId)
            {
                // Moved away from us (RFC 7432 §15: the higher sequence wins): no stale local entry.
                effects.MovedAway.Add(new MacKey(vni, change.Entry.Mac.Value));
            }
        }

        if (delta.IpBindings.Count > 0)
        {
            var bindings = _bindings.TryGetValue(vni, out var current) ? current : _bindings[vni] = [];
            var duplicates = _duplicates.TryGetValue(vni, out var flagged) ? flagged : _duplicates[vni] = [];
            foreach (var binding in delta.IpBindings)
            {
                if (bindings.TryGetValue(binding.Ip, out var previous) && previous != binding.Mac)
                {
                    effects.ClaimsLost.Add((new MacKey(vni, previous.Value), Ipv4Address.FromIPAddress(binding.Ip)));
                }

                if (binding.Mac is { } mac)
                {
                    bindings[binding.Ip] = mac;
                }
                else
                {
                    bindings.Remove(binding.Ip);
                }

                if (binding.Mac is not null && binding.Duplicate)
                {
                    duplicates.Add(binding.Ip);
                }
                else
                {
                    duplicates.Remove(binding.Ip);
                }
            }
        }

        _macVersions[vni] = new ReplicaVersion(delta.Epoch, delta.Version);
        return outcome;
    }

    /// <summary>Takes the VNIs marked stale (a gap or a new activation seen in a delta).</summary>
    public uint[] TakeStale()
    {
        uint[] stale = [.. _stale];
        _stale.Clear();
        return stale;
    }

    /// <summary>The forwarding tables for what the replica holds now; null before the first <see cref="Configure"/>.</summary>
    public ForwardingSnapshot? Build(DataPlaneCounters counters)
    {
        if (Switch is null)
        {
            return null;
        }

        var macs = _macs.ToDictionary(kv => kv.Key, kv => (IReadOnlyDictionary<MacAddress, MacEntry>)kv.Value);
        // A duplicate address is not proxied: ARP requests for it are flooded, so both claimants answer.
        var bindings = _bindings.ToDictionary(
            kv => kv.Key,
            kv => _duplicates.TryGetValue(kv.Key, out var duplicates) && duplicates.Count != 0
                ? (IReadOnlyDictionary<IPAddress, MacAddress>)kv.Value.Where(b => !duplicates.Contains(b.Key)).ToDictionary()
                : kv.Value);
        var masks = Switch.PortGroups.ToDictionary(g => g.Vni.Value, g => g.ReservedGroupForwardMask);
        return ForwardingBuilder.Build(Ports, Switch.Version, hostId, ownVtep, vxlanPort, _segments, macs, counters, _vtepCache, bindings, masks, Switch.Mtu, Switch);
    }
}
