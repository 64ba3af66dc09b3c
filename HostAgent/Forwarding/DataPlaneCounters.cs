using System.Collections.Concurrent;
using Fabric.HostAgent.Wire;

namespace Fabric.HostAgent.Forwarding;

/// <summary>
/// Plain counters the data plane increments with <see cref="Interlocked"/> and the metrics
/// exporter and status endpoint read. One set per port, one per VNI, one for the VTEP.
/// </summary>
/// <remarks>
/// Bytes are counted with frames where the data plane knows the length: on a port, the Ethernet
/// frames as the port hands them over or takes them (without FCS; a GSO super-frame is one frame of
/// its whole length); on the VTEP, the UDP payloads (VXLAN header and inner frame); per VNI, the inner
/// frames, untagged. A frame dropped before it was counted as received (too long for a slot) counts
/// no bytes.
/// </remarks>
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
    private long _receivedBytes;
    private long _deliveredBytes;
    private long _encapsulatedBytes;

    public long Received => Volatile.Read(ref _received);

    public long Delivered => Volatile.Read(ref _delivered);

    public long Encapsulated => Volatile.Read(ref _encapsulated);

    public long Flooded => Volatile.Read(ref _flooded);

    /// <summary>Bytes of the frames or datagrams counted in <see cref="Received"/> (see the class's remarks for what a byte is where).</summary>
    public long ReceivedBytes => Volatile.Read(ref _receivedBytes);

    /// <summary>Bytes of the frames counted in <see cref="Delivered"/>.</summary>
    public long DeliveredBytes => Volatile.Read(ref _deliveredBytes);

    /// <summary>Bytes of the frames or datagrams counted in <see cref="Encapsulated"/>.</summary>
    public long EncapsulatedBytes => Volatile.Read(ref _encapsulatedBytes);

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

    /// <summary>One frame or datagram of <paramref name="bytes"/> received.</summary>
    public void CountReceived(int bytes)
    {
        Interlocked.Increment(ref _received);
        Interlocked.Add(ref _receivedBytes, bytes);
    }

    public void CountDelivered() => Interlocked.Increment(ref _delivered);

    /// <summary>One frame of <paramref name="bytes"/> delivered to a local port.</summary>
    public void CountDelivered(int bytes)
    {
        Interlocked.Increment(ref _delivered);
        Interlocked.Add(ref _deliveredBytes, bytes);
    }

    public void CountEncapsulated() => Interlocked.Increment(ref _encapsulated);

    /// <summary>Counts <paramref name="datagrams"/> encapsulated at once (a UDP GSO train) of <paramref name="bytes"/> in all.</summary>
    public void CountEncapsulated(int datagrams, int bytes)
    {
        Interlocked.Add(ref _encapsulated, datagrams);
        Interlocked.Add(ref _encapsulatedBytes, bytes);
    }

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
            ["receivedBytes"] = ReceivedBytes,
            ["deliveredBytes"] = DeliveredBytes,
            ["encapsulatedBytes"] = EncapsulatedBytes,
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
