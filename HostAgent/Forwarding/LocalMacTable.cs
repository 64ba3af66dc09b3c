using System.Collections.Concurrent;

namespace Fabric.HostAgent.Forwarding;

/// <summary>
/// A MAC learned on a local port, with the IPv4 addresses it claimed as ARP sender. Written by the
/// data plane without locks; the control plane reads it when it publishes and releases addresses
/// the fabric bound to another MAC.
/// </summary>
internal sealed class LocalMac(int port, long seenAt)
{
    /// <summary>
    /// How many addresses one MAC is remembered to claim (a primary, secondaries, VIPs). A MAC that
    /// claims more keeps being published, one claim replacing the oldest remembered: the MAC table
    /// grain keeps every binding, this is only what stops re-publishing a claim on every ARP packet.
    /// </summary>
    public const int MaxClaims = 8;

    private readonly uint[] _claims = new uint[MaxClaims];
    private int _port = port;
    private long _seenAt = seenAt;
    private int _nextClaim;

    /// <summary>Index of the local port the MAC was last seen on.</summary>
    public int Port
    {
        get => Volatile.Read(ref _port);
        set => Volatile.Write(ref _port, value);
    }

    /// <summary>When the MAC was last seen, in <see cref="Environment.TickCount64"/> milliseconds.</summary>
    public long SeenAt
    {
        get => Volatile.Read(ref _seenAt);
        set => Volatile.Write(ref _seenAt, value);
    }

    /// <summary>The IPv4 addresses (host order) this MAC claimed and that are not known to be bound elsewhere.</summary>
    public IEnumerable<uint> Claims
    {
        get
        {
            for (int i = 0; i < _claims.Length; i++)
            {
                uint ip = Volatile.Read(ref _claims[i]);
                if (ip != 0)
                {
                    yield return ip;
                }
            }
        }
    }

    /// <summary>
    /// Data plane: remembers that the MAC claimed <paramref name="ip"/>. True when the claim is new
    /// (it must be published), false when it was already remembered. Allocates nothing.
    /// </summary>
    public bool Claim(uint ip)
    {
        for (int i = 0; i < _claims.Length; i++)
        {
            if (Volatile.Read(ref _claims[i]) == ip)
            {
                return false;
            }
        }

        for (int i = 0; i < _claims.Length; i++)
        {
            if (Interlocked.CompareExchange(ref _claims[i], ip, 0) == 0)
            {
                return true;
            }
        }

        // Full: replace the slots in turn, so a MAC with many addresses still publishes new claims.
        int slot = (int)((uint)Interlocked.Increment(ref _nextClaim) % MaxClaims);
        Volatile.Write(ref _claims[slot], ip);
        return true;
    }

    /// <summary>
    /// Control plane: the fabric bound <paramref name="ip"/> to another MAC, so this MAC's next claim
    /// of it is news again and is published (the newest claim wins at the MAC table).
    /// </summary>
    public void Release(uint ip)
    {
        for (int i = 0; i < _claims.Length; i++)
        {
            Interlocked.CompareExchange(ref _claims[i], 0, ip);
        }
    }
}

/// <summary>A MAC in a VNI: the key of the local table and of the learn queue.</summary>
internal readonly record struct MacKey(uint Vni, ulong Mac);

/// <summary>
/// A key in a learn queue with when it was queued (<see cref="Environment.TickCount64"/> ms) for
/// the learn publish latency; 0 for a key queued again wholesale (a requeue is no learn to time).
/// </summary>
internal readonly record struct QueuedKey(MacKey Key, long QueuedAt);

/// <summary>
/// MACs learned on local ports, and the one route by which what the data plane learns reaches the
/// control plane: <see cref="Learned"/>, a queue of keys whose entry is new, moved to another local
/// port, or claimed a new IPv4 address. The data plane reads and updates entries lock-free and adds
/// entries only for new MACs (a rare path); the control plane ages entries out, removes MACs that
/// moved to another host and releases addresses bound elsewhere.
/// </summary>
internal sealed class LocalMacTable(int portCount)
{
    private readonly ConcurrentDictionary<MacKey, LocalMac> _entries = new();
    private readonly ConcurrentQueue<QueuedKey> _learned = new();
    private readonly int[] _perPort = new int[portCount];
    private readonly long[] _firstLearned = new long[portCount];

    /// <summary>How many MACs the table holds, over every port and VNI.</summary>
    public int Count => _entries.Count;

    /// <summary>Every entry; a live view, safe to enumerate while the data plane learns.</summary>
    public IEnumerable<KeyValuePair<MacKey, LocalMac>> Entries => _entries;

    /// <summary>How many MACs are learned on local port <paramref name="port"/>.</summary>
    public int CountOnPort(int port) => Volatile.Read(ref _perPort[port]);

    /// <summary>
    /// Port security on a port without a configured MAC: whether <paramref name="mac"/> is the port's
    /// effective MAC, the first one learned there. The first frame on a port whose effective MAC is
    /// unset makes its source the effective MAC; it stays so until that MAC is forgotten (aged out,
    /// or moved to another host), after which the next source takes its place.
    /// </summary>
    public bool IsFirstLearned(int port, ulong mac)
    {
        long current = Volatile.Read(ref _firstLearned[port]);
        if (current == 0)
        {
            current = Interlocked.CompareExchange(ref _firstLearned[port], (long)mac, 0);
            if (current == 0)
            {
                return true;
            }
        }

        return current == (long)mac;
    }

    /// <summary>The effective MAC learned on <paramref name="port"/> (see <see cref="IsFirstLearned"/>), 0 when none.</summary>
    public ulong FirstLearned(int port) => (ulong)Volatile.Read(ref _firstLearned[port]);

    /// <summary>The entry of <paramref name="mac"/> in <paramref name="vni"/>, if learned here.</summary>
    public bool TryGet(uint vni, ulong mac, out LocalMac entry) => _entries.TryGetValue(new MacKey(vni, mac), out entry!);

    /// <summary>
    /// Data plane: records that <paramref name="mac"/> was seen on <paramref name="port"/> at
    /// <paramref name="now"/> (ms). False when the MAC is new, or moves here, and the port already
    /// holds <paramref name="macLimit"/> MACs (port security).
    /// </summary>
    public bool Learn(uint vni, ulong mac, int port, int macLimit, long now)
    {
        var key = new MacKey(vni, mac);
        if (_entries.TryGetValue(key, out var entry))
        {
            entry.SeenAt = now;
            int previous = entry.Port;
            if (previous != port)
            {
                // Moved between two local ports: the new port's limit holds for moves too, or a
                // port could collect other ports' MACs beyond its limit.
                if (Volatile.Read(ref _perPort[port]) >= macLimit)
                {
                    return false;
                }

                Interlocked.Decrement(ref _perPort[previous]);
                Interlocked.Increment(ref _perPort[port]);
                entry.Port = port;
                _learned.Enqueue(new QueuedKey(key, now));
            }

            return true;
        }

        if (Volatile.Read(ref _perPort[port]) >= macLimit)
        {
            return false;
        }

        if (_entries.TryAdd(key, new LocalMac(port, now)))
        {
            Interlocked.Increment(ref _perPort[port]);
            _learned.Enqueue(new QueuedKey(key, now));
        }

        return true;
    }

    /// <summary>
    /// Data plane: <paramref name="mac"/>, already learned in <paramref name="vni"/>, sent an ARP packet
    /// claiming <paramref name="ipv4"/> (host order). A claim new for this MAC is queued for publishing;
    /// a repeated one costs a few reads. Addresses that can never be bound (0.0.0.0, broadcast,
    /// multicast, RFC 1112 §4) are ignored here, as the MAC table would refuse them.
    /// </summary>
    public void Claim(uint vni, ulong mac, uint ipv4)
    {
        if (!IsBindable(ipv4))
        {
            return;
        }

        var key = new MacKey(vni, mac);
        if (_entries.TryGetValue(key, out var entry) && entry.Claim(ipv4))
        {
            _learned.Enqueue(new QueuedKey(key, Environment.TickCount64));
        }
    }

    /// <summary>Control plane: takes the next key whose entry changed (see <see cref="Learned"/>).</summary>
    public bool TryTakeLearned(out MacKey key) => TryTakeLearned(out key, out _);

    /// <summary>Control plane: takes the next key whose entry changed, with when it was queued (0: requeued, see <see cref="QueuedKey"/>).</summary>
    public bool TryTakeLearned(out MacKey key, out long queuedAt)
    {
        bool taken = _learned.TryDequeue(out var queued);
        (key, queuedAt) = (queued.Key, queued.QueuedAt);
        return taken;
    }

    /// <summary>Control plane: queues every entry again (the MAC tables may have lost them: host revived, silo restarted).</summary>
    public void RequeueAll()
    {
        foreach (var key in _entries.Keys)
        {
            _learned.Enqueue(new QueuedKey(key, 0));
        }
    }

    /// <summary>Control plane: <paramref name="ipv4"/> is bound to another MAC now; <paramref name="mac"/>'s next claim of it is news.</summary>
    public void Release(uint vni, ulong mac, uint ipv4)
    {
        if (_entries.TryGetValue(new MacKey(vni, mac), out var entry))
        {
            entry.Release(ipv4);
        }
    }

    /// <summary>Control plane: forgets a MAC (aged out, or now owned by another host). False if it was not here.</summary>
    public bool Forget(uint vni, ulong mac)
    {
        if (_entries.TryRemove(new MacKey(vni, mac), out var entry))
        {
            Interlocked.Decrement(ref _perPort[entry.Port]);
            Interlocked.CompareExchange(ref _firstLearned[entry.Port], 0, (long)mac);
            return true;
        }

        return false;
    }

    /// <summary>
    /// Control plane: the port in <paramref name="slot"/> was detached; forgets every MAC learned on
    /// it and its effective MAC, so a port attached to the slot later starts clean.
    /// </summary>
    public void ForgetPort(int slot)
    {
        foreach (var (key, entry) in _entries)
        {
            if (entry.Port == slot)
            {
                Forget(key.Vni, key.Mac);
            }
        }

        Volatile.Write(ref _firstLearned[slot], 0);
    }

    /// <summary>Removes entries not seen since <paramref name="olderThan"/> (ms, <see cref="Environment.TickCount64"/>); returns how many.</summary>
    public int Age(long olderThan)
    {
        int removed = 0;
        foreach (var (key, entry) in _entries)
        {
            if (entry.SeenAt < olderThan && Forget(key.Vni, key.Mac))
            {
                removed++;
            }
        }

        return removed;
    }

    /// <summary>A unicast IPv4 address (host order): not 0.0.0.0, not 255.255.255.255, not 224/4 multicast.</summary>
    /// <summary>
    /// A copy for a dry run (<see cref="DataPlane.Trace"/>): the same entries (port, last seen, claims),
    /// per-port counts and first-learned MACs, with an empty learn queue, so what the dry run would
    /// learn or publish shows in the copy (<see cref="TryTakeLearned"/>) and never in this table.
    /// O(entries); for diagnostics, never per frame.
    /// </summary>
    public LocalMacTable CloneForTrace()
    {
        var copy = new LocalMacTable(_perPort.Length);
        foreach (var (key, entry) in _entries)
        {
            var clone = new LocalMac(entry.Port, entry.SeenAt);
            foreach (uint ip in entry.Claims)
            {
                clone.Claim(ip);
            }

            copy._entries[key] = clone;
        }

        for (int i = 0; i < _perPort.Length; i++)
        {
            copy._perPort[i] = Volatile.Read(ref _perPort[i]);
            copy._firstLearned[i] = Volatile.Read(ref _firstLearned[i]);
        }

        return copy;
    }

    public static bool IsBindable(uint ipv4) => ipv4 != 0 && ipv4 != uint.MaxValue && ipv4 >> 28 != 0xE;
}
