using System.Collections.Concurrent;

namespace Fabric.HostAgent.Forwarding;

/// <summary>A MAC seen as the inner source of datagrams from an external VTEP. Written by the data plane without locks.</summary>
internal sealed class ExternalMac(uint vtep, long seenAt)
{
    private uint _vtep = vtep;
    private long _seenAt = seenAt;

    /// <summary>The external VTEP (IPv4, host order) the MAC was last seen behind.</summary>
    public uint Vtep
    {
        get => Volatile.Read(ref _vtep);
        set => Volatile.Write(ref _vtep, value);
    }

    /// <summary>When it was last seen, in <see cref="Environment.TickCount64"/> milliseconds.</summary>
    public long SeenAt
    {
        get => Volatile.Read(ref _seenAt);
        set => Volatile.Write(ref _seenAt, value);
    }
}

/// <summary>
/// Data-plane learning for external VTEPs (RFC 7348 §4.1: a VTEP learns the inner source MAC → outer
/// source address of what it receives). Only datagrams from a segment's external VTEPs (a kernel or
/// hardware VTEP with no agent to publish its MACs) are learned here; the MACs go to the MAC tables
/// through the same learn route as local ones, and unicast to them then goes to that VTEP alone.
/// The table holds at most <see cref="Capacity"/> MACs, so a VTEP sending from random sources cannot
/// exhaust the agent's memory; beyond that new MACs are not learned (and their traffic is flooded).
/// </summary>
internal sealed class ExternalMacTable
{
    /// <summary>Most MACs learned behind external VTEPs on one host.</summary>
    public const int Capacity = 16_384;

    private readonly ConcurrentDictionary<MacKey, ExternalMac> _entries = new();
    private readonly ConcurrentQueue<QueuedKey> _learned = new();
    private long _notLearned;

    /// <summary>How many MACs the table holds.</summary>
    public int Count => _entries.Count;

    /// <summary>New MACs not learned because the table was full.</summary>
    public long NotLearned => Interlocked.Read(ref _notLearned);

    /// <summary>Every entry; a live view.</summary>
    public IEnumerable<KeyValuePair<MacKey, ExternalMac>> Entries => _entries;

    /// <summary>
    /// Data plane: <paramref name="mac"/> in <paramref name="vni"/> was the source of a datagram from the
    /// external VTEP <paramref name="vtep"/> at <paramref name="now"/> (ms). A MAC new here, or seen
    /// behind another VTEP than before, is queued for publishing; a known one costs a lookup and a write.
    /// </summary>
    public void Learn(uint vni, ulong mac, uint vtep, long now)
    {
        var key = new MacKey(vni, mac);
        if (_entries.TryGetValue(key, out var entry))
        {
            entry.SeenAt = now;
            if (entry.Vtep != vtep)
            {
                entry.Vtep = vtep;
                _learned.Enqueue(new QueuedKey(key, now));
            }

            return;
        }

        if (_entries.Count >= Capacity)
        {
            Interlocked.Increment(ref _notLearned);
            return;
        }

        if (_entries.TryAdd(key, new ExternalMac(vtep, now)))
        {
            _learned.Enqueue(new QueuedKey(key, now));
        }
    }

    /// <summary>The entry of <paramref name="mac"/> in <paramref name="vni"/>, if learned.</summary>
    public bool TryGet(uint vni, ulong mac, out ExternalMac entry) => _entries.TryGetValue(new MacKey(vni, mac), out entry!);

    /// <summary>Control plane: takes the next key to publish.</summary>
    public bool TryTakeLearned(out MacKey key) => TryTakeLearned(out key, out _);

    /// <summary>Control plane: takes the next key to publish, with when it was queued (0: queued again, not learned).</summary>
    public bool TryTakeLearned(out MacKey key, out long queuedAt)
    {
        bool taken = _learned.TryDequeue(out var queued);
        (key, queuedAt) = (queued.Key, queued.QueuedAt);
        return taken;
    }

    /// <summary>
    /// Control plane: queues again every MAC seen since <paramref name="since"/> (ms), so the MAC
    /// tables, which age MACs behind external VTEPs, keep those still in use.
    /// </summary>
    /// <returns>How many were queued.</returns>
    public int RequeueSeenSince(long since)
    {
        int queued = 0;
        foreach (var (key, entry) in _entries)
        {
            if (entry.SeenAt >= since)
            {
                _learned.Enqueue(new QueuedKey(key, 0));
                queued++;
            }
        }

        return queued;
    }

    /// <summary>Control plane: queues every MAC again (the MAC tables may have lost them).</summary>
    public void RequeueAll() => RequeueSeenSince(long.MinValue);

    /// <summary>Forgets MACs not seen since <paramref name="olderThan"/> (ms); returns how many.</summary>
    public int Age(long olderThan)
    {
        int removed = 0;
        foreach (var (key, entry) in _entries)
        {
            if (entry.SeenAt < olderThan && _entries.TryRemove(key, out _))
            {
                removed++;
            }
        }

        return removed;
    }

    /// <summary>Forgets every MAC of VNIs no port carries any more.</summary>
    public void ForgetVnisOtherThan(IReadOnlySet<uint> carried)
    {
        foreach (var key in _entries.Keys)
        {
            if (!carried.Contains(key.Vni))
            {
                _entries.TryRemove(key, out _);
            }
        }
    }
}
