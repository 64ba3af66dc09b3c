using System.Collections.Concurrent;
using Fabric.HostAgent.Wire;

namespace Fabric.HostAgent.Forwarding;

/// <summary>
/// Plain counters the data plane increments with <see cref="Interlocked"/> and the metrics
/// exporter and status endpoint read. One set per port, one per VNI, one for the VTEP.
/// </summary>
internal sealed class TrafficCounters
{
    private static readonly int DropCount = Enum.GetValues<DataPlaneDrop>().Length;
    private static readonly int MalformedCount = Enum.GetValues<DropReason>().Length;

    private readonly long[] _drops = new long[DropCount];
    private readonly long[] _malformed = new long[MalformedCount];
    private long _received;
    private long _delivered;
    private long _encapsulated;
    private long _flooded;
    private long _arpSuppressed;
    private long _routed;
    private long _icmpSent;

    public long Received => Volatile.Read(ref _received);

    public long Delivered => Volatile.Read(ref _delivered);

    public long Encapsulated => Volatile.Read(ref _encapsulated);

    public long Flooded => Volatile.Read(ref _flooded);

    /// <summary>ARP requests answered locally from the segment's bindings instead of flooded.</summary>
    public long ArpSuppressed => Volatile.Read(ref _arpSuppressed);

    /// <summary>IPv4 packets the anycast gateway routed (counted on the ingress port and segment).</summary>
    public long Routed => Volatile.Read(ref _routed);

    /// <summary>ICMP messages the anycast gateway sent: echo replies and errors (RFC 792, RFC 1812 §4.3).</summary>
    public long IcmpSent => Volatile.Read(ref _icmpSent);

    public long DropsOf(DataPlaneDrop reason) => Volatile.Read(ref _drops[(int)reason]);

    public long MalformedOf(DropReason reason) => Volatile.Read(ref _malformed[(int)reason]);

    public long TotalDrops
    {
        get
        {
            long sum = 0;
            for (int i = 0; i < _drops.Length; i++)
            {
                sum += Volatile.Read(ref _drops[i]);
            }

            return sum;
        }
    }

    public void CountReceived() => Interlocked.Increment(ref _received);

    public void CountDelivered() => Interlocked.Increment(ref _delivered);

    public void CountEncapsulated() => Interlocked.Increment(ref _encapsulated);

    /// <summary>Counts <paramref name="datagrams"/> encapsulated at once (a UDP GSO train).</summary>
    public void CountEncapsulated(int datagrams) => Interlocked.Add(ref _encapsulated, datagrams);

    public void CountFlooded() => Interlocked.Increment(ref _flooded);

    public void CountArpSuppressed() => Interlocked.Increment(ref _arpSuppressed);

    public void CountRouted() => Interlocked.Increment(ref _routed);

    public void CountIcmpSent() => Interlocked.Increment(ref _icmpSent);

    public void CountDrop(DataPlaneDrop reason) => Interlocked.Increment(ref _drops[(int)reason]);

    public void CountMalformed(DropReason reason)
    {
        Interlocked.Increment(ref _drops[(int)DataPlaneDrop.Malformed]);
        Interlocked.Increment(ref _malformed[(int)reason]);
    }

    public IReadOnlyDictionary<string, long> Snapshot()
    {
        var result = new SortedDictionary<string, long>(StringComparer.Ordinal)
        {
            ["received"] = Received,
            ["delivered"] = Delivered,
            ["encapsulated"] = Encapsulated,
            ["flooded"] = Flooded,
            ["arpSuppressed"] = ArpSuppressed,
            ["routed"] = Routed,
            ["icmpSent"] = IcmpSent,
        };
        foreach (var reason in Enum.GetValues<DataPlaneDrop>())
        {
            if (DropsOf(reason) is > 0 and var n)
            {
                result[$"drop.{reason}"] = n;
            }
        }

        foreach (var reason in Enum.GetValues<DropReason>())
        {
            if (reason != DropReason.None && MalformedOf(reason) is > 0 and var n)
            {
                result[$"malformed.{reason}"] = n;
            }
        }

        return result;
    }
}

/// <summary>Every counter of the agent: per port slot (by index), per VNI, for the VTEP socket, and in total.</summary>
internal sealed class DataPlaneCounters(int portCount)
{
    private readonly ConcurrentDictionary<uint, TrafficCounters> _byVni = new();

    public TrafficCounters Total { get; } = new();

    public TrafficCounters Vtep { get; } = new();

    /// <summary>One set per port slot; a slot's set is replaced when a port is attached to it (<see cref="ResetPort"/>).</summary>
    public TrafficCounters[] Ports { get; } = Enumerable.Range(0, portCount).Select(_ => new TrafficCounters()).ToArray();

    /// <summary>Control plane: a port was attached to <paramref name="slot"/>; it counts from zero, not on the previous port's counts.</summary>
    public void ResetPort(int slot) => Volatile.Write(ref Ports[slot], new TrafficCounters());

    /// <summary>Created by the control plane when a segment appears, so the data plane only reads the dictionary.</summary>
    public TrafficCounters ForVni(uint vni) => _byVni.GetOrAdd(vni, static _ => new TrafficCounters());

    public IReadOnlyDictionary<uint, TrafficCounters> ByVni => _byVni;

    /// <summary>
    /// Control plane: drops the counters of VNIs no port carries any more, so a VNI used again later
    /// (by another tenant's segment) starts counting from zero.
    /// </summary>
    public void ForgetVnisOtherThan(IReadOnlySet<uint> carried)
    {
        foreach (uint vni in _byVni.Keys)
        {
            if (!carried.Contains(vni))
            {
                _byVni.TryRemove(vni, out _);
            }
        }
    }
}
