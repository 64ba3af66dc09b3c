using System.Collections.Concurrent;
using System.Diagnostics.Metrics;

namespace Fabric.Grains.Diagnostics;

/// <summary>
/// The control plane's instruments (meter <see cref="MeterName"/>), one set per silo. MAC table
/// and host grains register their activation here when it starts and leave when it ends; the
/// observable instruments read the registered activations when the exporter collects, so a grain
/// call pays nothing for them beyond an integer it keeps anyway.
/// </summary>
/// <remarks>
/// An activation lives on one silo, so each silo reports only the grains it holds and summing a
/// series over the silos counts every MAC table and host once (an activation that moves reports from
/// its new silo; the old silo stops reporting it). A grain that is not active reports nothing: MAC
/// tables stay active while agents subscribe to them, host grains while the liveness sweep touches them.
/// </remarks>
internal sealed class GrainMetrics
{
    /// <summary>The meter's name, as an exporter subscribes to it.</summary>
    public const string MeterName = "Fabric.Grains";

    private readonly ConcurrentDictionary<MacTableGauges, byte> _macTables = new();
    private readonly ConcurrentDictionary<HostGauges, byte> _hosts = new();

    public GrainMetrics(IMeterFactory factory)
    {
        // The factory owns the meter and disposes it with the silo's services.
        var meter = factory.Create(MeterName);
        meter.CreateObservableGauge("fabric.mac_table.entries", () => ReadMacTables(t => t.Entries), "{entry}", "MAC table entries (learned, static and frozen), per VNI");
        meter.CreateObservableGauge("fabric.mac_table.frozen_macs", () => ReadMacTables(t => t.Frozen), "{mac}", "MACs frozen by duplicate MAC detection (RFC 7432 §15.1), per VNI");
        meter.CreateObservableGauge("fabric.mac_table.ip_bindings", () => ReadMacTables(t => t.IpBindings), "{binding}", "IPv4 → MAC bindings (ARP suppression, routing), per VNI");
        meter.CreateObservableGauge("fabric.mac_table.duplicate_ips", () => ReadMacTables(t => t.DuplicateIps), "{address}", "IPv4 addresses flagged duplicate, per VNI");
        meter.CreateObservableCounter("fabric.mac_table.moves", () => ReadMacTables(t => t.Moves), "{move}", "MACs moved to another location by learning (RFC 7432 §15), per VNI, since the MAC table's activation");
        meter.CreateObservableGauge("fabric.hosts", ReadHostCounts, "{host}", "Registered hosts by liveness (state: alive, dead)");
        meter.CreateObservableGauge("fabric.host.alive", ReadHosts, unit: null, "1 while a registered host's agent heartbeats, 0 once it is declared dead, per host");
        LearnPushDuration = meter.CreateHistogram(
            "fabric.mac_table.learn_push.duration",
            "s",
            "From the start of a MAC table grain's turn for an agent's learn batch until the delta it caused was handed to the subscribers (after the state write); batches that change nothing are not recorded",
            tags: null,
            new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5] });
    }

    /// <summary>Seconds from a learn batch's turn starting until its delta was pushed (see the instrument's description).</summary>
    public Histogram<double> LearnPushDuration { get; }

    public void Register(MacTableGauges table) => _macTables.TryAdd(table, 0);

    public void Unregister(MacTableGauges table) => _macTables.TryRemove(table, out _);

    public void Register(HostGauges host) => _hosts.TryAdd(host, 0);

    public void Unregister(HostGauges host) => _hosts.TryRemove(host, out _);

    private IEnumerable<Measurement<long>> ReadMacTables(Func<MacTableGauges, long> read)
    {
        foreach (var table in _macTables.Keys)
        {
            yield return new Measurement<long>(read(table), table.Tag);
        }
    }

    private IEnumerable<Measurement<int>> ReadHostCounts()
    {
        int alive = 0, dead = 0;
        foreach (var host in _hosts.Keys)
        {
            switch (host.Read())
            {
                case HostLiveness.Alive: alive++; break;
                case HostLiveness.Dead: dead++; break;
            }
        }

        yield return new Measurement<int>(alive, new KeyValuePair<string, object?>("state", "alive"));
        yield return new Measurement<int>(dead, new KeyValuePair<string, object?>("state", "dead"));
    }

    private IEnumerable<Measurement<int>> ReadHosts()
    {
        foreach (var host in _hosts.Keys)
        {
            var liveness = host.Read();
            if (liveness != HostLiveness.Unregistered)
            {
                yield return new Measurement<int>(liveness == HostLiveness.Alive ? 1 : 0, host.Tag);
            }
        }
    }
}

/// <summary>
/// What one MAC table activation shows its silo's <see cref="GrainMetrics"/>: plain fields the grain
/// writes in its own turns (Orleans lets only the grain's turns touch its persistent state) and the
/// exporter reads on collection.
/// </summary>
internal sealed class MacTableGauges(uint vni)
{
    private int _entries;
    private int _ipBindings;
    private int _duplicateIps;
    private int _frozen;
    private long _moves;

    /// <summary>The <c>vni</c> label, made once per activation.</summary>
    public KeyValuePair<string, object?> Tag { get; } = new("vni", vni.ToString(System.Globalization.CultureInfo.InvariantCulture));

    public long Entries => Volatile.Read(ref _entries);

    public long IpBindings => Volatile.Read(ref _ipBindings);

    public long DuplicateIps => Volatile.Read(ref _duplicateIps);

    public long Frozen => Volatile.Read(ref _frozen);

    public long Moves => Volatile.Read(ref _moves);

    /// <summary>Grain turn: the table's sizes after a change (or at activation).</summary>
    public void SetSizes(int entries, int ipBindings, int duplicateIps)
    {
        Volatile.Write(ref _entries, entries);
        Volatile.Write(ref _ipBindings, ipBindings);
        Volatile.Write(ref _duplicateIps, duplicateIps);
    }

    /// <summary>Grain turn: sets the frozen count (at activation, from the loaded state).</summary>
    public void SetFrozen(int count) => Volatile.Write(ref _frozen, count);

    /// <summary>Grain turn: one more MAC frozen (positive) or one fewer (negative).</summary>
    public void AddFrozen(int delta) => Interlocked.Add(ref _frozen, delta);

    /// <summary>Grain turn: a MAC moved.</summary>
    public void CountMove() => Interlocked.Increment(ref _moves);
}

/// <summary>A host's liveness as its grain's state says it.</summary>
internal enum HostLiveness
{
    /// <summary>Not registered (an activation for an unknown id, or after unregistering): not counted.</summary>
    Unregistered,

    Alive,

    Dead,
}

/// <summary>What one host grain activation shows its silo's <see cref="GrainMetrics"/>: its liveness, written in the grain's turns.</summary>
internal sealed class HostGauges(string hostId)
{
    private int _liveness;

    /// <summary>The <c>host</c> label.</summary>
    public KeyValuePair<string, object?> Tag { get; } = new("host", hostId);

    public HostLiveness Read() => (HostLiveness)Volatile.Read(ref _liveness);

    /// <summary>Grain turn: the host's liveness as its state says now.</summary>
    public void Set(bool registered, bool alive)
        => Volatile.Write(ref _liveness, (int)(!registered ? HostLiveness.Unregistered : alive ? HostLiveness.Alive : HostLiveness.Dead));
}
