using Fabric.HostAgent.Configuration;
using Fabric.HostAgent.Control;
using Microsoft.Extensions.Options;

namespace Fabric.HostAgent.LocalPorts;

/// <summary>
/// The agent's attached ports by slot: the configured ones (slots 0..n-1) and those attached at run
/// time (restored from <see cref="AgentOptions.RuntimePortsFile"/> at start, in their saved slots).
/// Every change is saved to the file before it counts, and raises <see cref="Changed"/>, on which the
/// sync loop maps the ports again, publishes the forwarding tables and re-registers the host; the
/// version it registered is recorded here (<see cref="MarkRegistered"/>), so an attach can wait
/// until the fabric knows the port. A freed slot is reused last (slots are handed out in turn), so a
/// frame still in flight for a detached port never reaches the next one. Thread-safe.
/// </summary>
internal sealed class PortRegistry
{
    private readonly Lock _gate = new();
    private readonly string? _file;
    private readonly bool[] _busy;
    private readonly List<(long Version, TaskCompletionSource Done)> _waiters = [];
    private LocalPort[] _ports;
    private int _next;
    private long _version = 1;
    private long _registered;

    /// <summary>Takes the configured ports and, when <see cref="AgentOptions.RuntimePortsFile"/> is set, the saved runtime ports.</summary>
    /// <exception cref="InvalidDataException">The runtime ports file is unreadable, or names a slot or interface twice or beyond <see cref="AgentOptions.MaxPorts"/>.</exception>
    public PortRegistry(IOptions<AgentOptions> options, TimeProvider time)
    {
        var o = options.Value;
        _file = o.RuntimePortsFile is { Length: > 0 } file ? file : null;
        _busy = new bool[o.MaxPorts];
        var now = time.GetUtcNow();
        var ports = o.Ports.Select((p, i) => new LocalPort
        {
            Slot = i,
            Interface = p.Interface,
            PortGroup = p.PortGroup,
            Mac = p.Mac is { Length: > 0 } mac ? mac : null,
            Vlan = p.Vlan,
            Configured = true,
            AttachedAt = now,
        }).ToList();
        foreach (var saved in _file is null ? [] : PortsFile.Load(_file))
        {
            string? problem = saved.Slot < 0 || saved.Slot >= _busy.Length ? $"slot {saved.Slot} is outside 0..{_busy.Length - 1} (Fabric:Agent:MaxPorts)"
                : ports.Any(p => p.Slot == saved.Slot) ? $"slot {saved.Slot} is taken twice (or by a configured port)"
                : ports.Any(p => p.Interface == saved.Interface) ? $"interface {saved.Interface} is attached twice (or configured)"
                : PortRequest.Check(saved.Interface, saved.PortGroup, saved.Mac, saved.Ipv4, saved.Owner, saved.Vlan) is { } bad ? bad.Message
                : null;
            if (problem is not null)
            {
                throw new InvalidDataException($"Fabric:Agent:RuntimePortsFile '{_file}': {problem}; repair or remove the entry.");
            }

            ports.Add(saved with { Configured = false });
        }

        foreach (var port in ports)
        {
            _busy[port.Slot] = true;
        }

        _ports = [.. ports.OrderBy(p => p.Slot)];
        _next = _ports.Length == 0 ? 0 : (_ports[^1].Slot + 1) % _busy.Length;
    }

    /// <summary>Raised after every change, on the thread that made it (never under the registry's lock).</summary>
    public event Action? Changed;

    /// <summary>How many slots there are (<see cref="AgentOptions.MaxPorts"/>).</summary>
    public int Capacity => _busy.Length;

    private Fabric.Grains.SwitchConfig? _switch;

    /// <summary>The switch configuration as last read from the cluster (set by the sync loop); null before the first read. Attaching to a port group it does not have is refused.</summary>
    public Fabric.Grains.SwitchConfig? Switch
    {
        get => Volatile.Read(ref _switch);
        set => Volatile.Write(ref _switch, value);
    }

    /// <summary>The attached ports in slot order and the version they are at, read together.</summary>
    public (long Version, IReadOnlyList<LocalPort> Ports) Current
    {
        get
        {
            lock (_gate)
            {
                return (_version, _ports);
            }
        }
    }

    /// <summary>The attached ports in slot order.</summary>
    public IReadOnlyList<LocalPort> Ports => Volatile.Read(ref _ports);

    /// <summary>The last port-list version the host registered with the cluster.</summary>
    public long RegisteredVersion => Interlocked.Read(ref _registered);

    /// <summary>The ports as the forwarding tables take them.</summary>
    public static IReadOnlyList<SlotBinding> Bindings(IReadOnlyList<LocalPort> ports) => [.. ports.Select(p => new SlotBinding(p.Slot, p.Binding))];

    /// <summary>The port attached as <paramref name="interfaceName"/>, or null.</summary>
    public LocalPort? Find(string interfaceName) => Ports.FirstOrDefault(p => p.Interface == interfaceName);

    /// <summary>The interface in <paramref name="slot"/>, or null for a free slot.</summary>
    public string? NameOf(int slot)
    {
        foreach (var port in Ports)
        {
            if (port.Slot == slot)
            {
                return port.Interface;
            }
        }

        return null;
    }

    /// <summary>Takes the next free slot in turn; null when every slot is busy.</summary>
    public int? ReserveSlot()
    {
        lock (_gate)
        {
            for (int n = 0; n < _busy.Length; n++)
            {
                int slot = (_next + n) % _busy.Length;
                if (!_busy[slot])
                {
                    _busy[slot] = true;
                    _next = (slot + 1) % _busy.Length;
                    return slot;
                }
            }

            return null;
        }
    }

    /// <summary>Frees a slot reserved or left by a detached port whose loop has ended.</summary>
    public void ReleaseSlot(int slot)
    {
        lock (_gate)
        {
            if (!_ports.Any(p => p.Slot == slot))
            {
                _busy[slot] = false;
            }
        }
    }

    /// <summary>Adds <paramref name="port"/> (its slot reserved before), saves the list, then raises <see cref="Changed"/>.</summary>
    /// <exception cref="IOException">The list could not be saved; nothing changed.</exception>
    public void Add(LocalPort port)
    {
        lock (_gate)
        {
            LocalPort[] ports = [.. _ports.Append(port).OrderBy(p => p.Slot)];
            Save(ports);
            _ports = ports;
            _version++;
        }

        Changed?.Invoke();
    }

    /// <summary>Removes the port attached as <paramref name="interfaceName"/> and saves the list; its slot stays busy until <see cref="ReleaseSlot"/>. Null when not attached.</summary>
    /// <exception cref="IOException">The list could not be saved; nothing changed.</exception>
    public LocalPort? Remove(string interfaceName)
    {
        LocalPort? removed;
        lock (_gate)
        {
            removed = _ports.FirstOrDefault(p => p.Interface == interfaceName);
            if (removed is null)
            {
                return null;
            }

            LocalPort[] ports = [.. _ports.Where(p => p != removed)];
            Save(ports);
            _ports = ports;
            _version++;
        }

        Changed?.Invoke();
        return removed;
    }

    /// <summary>The sync loop registered the host with the ports of <paramref name="version"/> (or a later one).</summary>
    public void MarkRegistered(long version)
    {
        List<TaskCompletionSource> done = [];
        lock (_gate)
        {
            if (version <= _registered)
            {
                return;
            }

            _registered = version;
            for (int i = _waiters.Count - 1; i >= 0; i--)
            {
                if (_waiters[i].Version <= version)
                {
                    done.Add(_waiters[i].Done);
                    _waiters.RemoveAt(i);
                }
            }
        }

        done.ForEach(d => d.TrySetResult());
    }

    /// <summary>True once the host registered the ports of <paramref name="version"/> or later; false if that did not happen within <paramref name="timeout"/> (the sync loop keeps trying).</summary>
    public async Task<bool> WaitRegisteredAsync(long version, TimeSpan timeout)
    {
        TaskCompletionSource done;
        lock (_gate)
        {
            if (_registered >= version)
            {
                return true;
            }

            done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiters.Add((version, done));
        }

        var finished = await Task.WhenAny(done.Task, Task.Delay(timeout));
        if (finished != done.Task)
        {
            lock (_gate)
            {
                _waiters.RemoveAll(w => w.Done == done);
            }

            return false;
        }

        return true;
    }

    private void Save(LocalPort[] ports)
    {
        if (_file is not null)
        {
            PortsFile.Save(_file, ports);
        }
    }
}
