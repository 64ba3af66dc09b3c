using System.Collections.Concurrent;

namespace Fabric.HostAgent.Forwarding;

/// <summary>A MAC learned on a local port. Fields are written by the data plane without locks.</summary>
public sealed class LocalMac(int port, long seenAt)
{
    private int _port = port;
    private long _seenAt = seenAt;
    private uint _ipv4;

    public int Port
    {
        get => Volatile.Read(ref _port);
        set => Volatile.Write(ref _port, value);
    }

    public long SeenAt
    {
        get => Volatile.Read(ref _seenAt);
        set => Volatile.Write(ref _seenAt, value);
    }

    /// <summary>The IPv4 address this MAC last claimed as ARP sender (0: none yet), for ARP suppression.</summary>
    public uint Ipv4
    {
        get => Volatile.Read(ref _ipv4);
        set => Volatile.Write(ref _ipv4, value);
    }

    /// <summary>Control plane only: the binding last published to the MAC table grain (0: none).</summary>
    public uint PublishedIpv4 { get; set; }
}

public readonly record struct MacKey(uint Vni, ulong Mac);

/// <summary>A MAC the data plane learned that the MAC table grain has not been told of yet.</summary>
public readonly record struct LearnedMac(uint Vni, ulong Mac, int Port);

/// <summary>
/// MACs learned on local ports. The data plane reads lock-free and adds entries only for new MACs
/// (a rare path); the control plane ages entries out and removes MACs that moved to another host.
/// </summary>
public sealed class LocalMacTable(int portCount)
{
    private readonly ConcurrentDictionary<MacKey, LocalMac> _entries = new();
    private readonly int[] _perPort = new int[portCount];

    /// <summary>Learned MACs waiting to be published, drained by the control plane.</summary>
    public ConcurrentQueue<LearnedMac> Pending { get; } = new();

    public int Count => _entries.Count;

    public int CountOnPort(int port) => Volatile.Read(ref _perPort[port]);

    public bool TryGet(uint vni, ulong mac, out LocalMac entry) => _entries.TryGetValue(new MacKey(vni, mac), out entry!);

    /// <summary>
    /// Records that <paramref name="mac"/> was seen on <paramref name="port"/>. False when the MAC is
    /// new and the port already holds <paramref name="macLimit"/> MACs.
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
                Pending.Enqueue(new LearnedMac(vni, mac, port));
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
            Pending.Enqueue(new LearnedMac(vni, mac, port));
        }

        return true;
    }

    /// <summary>
    /// Data plane: <paramref name="mac"/>, already learned in <paramref name="vni"/>, sent an ARP packet
    /// claiming <paramref name="ipv4"/>. Only remembered on the entry (no queue, nothing allocated);
    /// the control plane publishes changed bindings from <see cref="Entries"/>.
    /// </summary>
    public void Snoop(uint vni, ulong mac, uint ipv4)
    {
        if (_entries.TryGetValue(new MacKey(vni, mac), out var entry) && entry.Ipv4 != ipv4)
        {
            entry.Ipv4 = ipv4;
        }
    }

    /// <summary>Control plane: forget a MAC (aged out, or now owned by another host).</summary>
    public bool Forget(uint vni, ulong mac)
    {
        if (_entries.TryRemove(new MacKey(vni, mac), out var entry))
        {
            Interlocked.Decrement(ref _perPort[entry.Port]);
            return true;
        }

        return false;
    }

    /// <summary>Control plane: removes entries not seen since <paramref name="olderThan"/>; returns how many.</summary>
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

    public IEnumerable<KeyValuePair<MacKey, LocalMac>> Entries => _entries;
}
