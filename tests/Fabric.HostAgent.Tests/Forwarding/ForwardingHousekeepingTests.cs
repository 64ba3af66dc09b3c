using Fabric.HostAgent.Configuration;
using Fabric.HostAgent.Forwarding;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using static Fabric.HostAgent.Tests.Forwarding.ForwardingLab;

namespace Fabric.HostAgent.Tests.Forwarding;

/// <summary>
/// MAC ageing and forwarding-cache saves belong to the data plane, not to the cluster session: they
/// run with no cluster at all (none exists in these tests: no client, no silo), which is what an
/// agent sees during a control-plane outage.
/// </summary>
[Trait("Category", "Unit")]
public sealed class ForwardingHousekeepingTests : IDisposable
{
    private static readonly TimeSpan AgingTime = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan MaxAge = TimeSpan.FromSeconds(60);

    private readonly string _dir = Directory.CreateTempSubdirectory("fabric-housekeeping-test-").FullName;
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 30, 12, 0, 0, TimeSpan.Zero));
    private readonly ForwardingLab _lab = new();

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string CacheFile => Path.Combine(_dir, "forwarding.json");

    private AgentOptions Options() => new()
    {
        HostId = "h1",
        VtepAddress = "10.0.0.1",
        Switch = "dvs",
        Ports = [.. _lab.Snapshot.Ports.Select(p => new PortBindingOptions { Interface = p.Name, PortGroup = "web" })],
        ForwardingCacheFile = CacheFile,
        ForwardingCacheMaxAge = MaxAge,
        MacAgingTime = AgingTime,
    };

    private ForwardingHousekeeping Housekeeping() => new(Microsoft.Extensions.Options.Options.Create(Options()), _lab.DataPlane, _time, NullLogger<ForwardingHousekeeping>.Instance);

    private ForwardingSnapshot? LoadCache(DateTimeOffset now, out string reason)
        => ForwardingCache.Load(CacheFile, "h1", "dvs", [.. _lab.Snapshot.Ports.Select(p => (p.Index, p.Name))], PortCount, MaxAge, now, new DataPlaneCounters(PortCount), a => new RemoteVtep(a, 4789), out reason);

    [Fact]
    public async Task Stale_local_macs_age_out_and_the_tables_are_saved_while_no_cluster_exists()
    {
        var stale = Mac(0x51);
        var fresh = Mac(0x52);
        Assert.True(_lab.Macs.Learn(VniA, stale.Value, 0, 64, Environment.TickCount64 - (long)(AgingTime.TotalMilliseconds * 2)));
        Assert.True(_lab.Macs.Learn(VniA, fresh.Value, 1, 64, Environment.TickCount64));
        _lab.DataPlane.Publish(_lab.Snapshot); // tables arrived (before the outage)
        var housekeeping = Housekeeping();

        await housekeeping.StartAsync(CancellationToken.None);
        try
        {
            // Ageing runs every tenth of the ageing time (3 s); the timer ticks every second.
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
            while ((housekeeping.Aged == 0 || housekeeping.Saves == 0) && DateTime.UtcNow < deadline)
            {
                _time.Advance(TimeSpan.FromSeconds(1));
                await Task.Delay(20);
            }
        }
        finally
        {
            await housekeeping.StopAsync(CancellationToken.None);
        }

        Assert.Equal(1, housekeeping.Aged);
        Assert.False(_lab.Macs.TryGet(VniA, stale.Value, out _));
        Assert.True(_lab.Macs.TryGet(VniA, fresh.Value, out _));
        Assert.Equal(0, _lab.Macs.CountOnPort(0));
        Assert.True(housekeeping.Saves >= 1);
        var loaded = LoadCache(_time.GetUtcNow(), out string reason);
        Assert.True(loaded is not null, reason);
        Assert.Equal(_lab.Snapshot.Segments.Keys.Order(), loaded.Segments.Keys.Order());
    }

    [Fact]
    public void Unchanged_tables_are_saved_again_before_they_grow_too_old_for_a_warm_start()
    {
        var housekeeping = Housekeeping();
        _lab.DataPlane.Publish(_lab.Snapshot);

        housekeeping.RunOnce();
        Assert.Equal(1, housekeeping.Saves);
        var firstSave = _time.GetUtcNow();

        _time.Advance(TimeSpan.FromSeconds(1));
        housekeeping.RunOnce();
        Assert.Equal(1, housekeeping.Saves); // nothing changed, and the file is young

        _time.Advance(housekeeping.RefreshInterval);
        housekeeping.RunOnce();
        Assert.Equal(2, housekeeping.Saves);

        // A restart 50 s after this save still warm-starts, although the tables last changed 71 s ago.
        var restart = _time.GetUtcNow() + TimeSpan.FromSeconds(50);
        Assert.True(restart - firstSave > MaxAge);
        Assert.True(LoadCache(restart, out string reason) is not null, reason);
    }

    [Fact]
    public void Changed_tables_are_saved_on_the_next_round()
    {
        var housekeeping = Housekeeping();
        _lab.DataPlane.Publish(_lab.Snapshot);
        housekeeping.RunOnce();

        _lab.BindArp(VniA, 0xC0A80A63, RemoteA); // publishes new tables
        _time.Advance(ForwardingHousekeeping.SaveInterval);
        housekeeping.RunOnce();

        Assert.Equal(2, housekeeping.Saves);
        var loaded = LoadCache(_time.GetUtcNow(), out string reason);
        Assert.True(loaded is not null, reason);
        Assert.Equal(RemoteA.Value, loaded.Segments[VniA].ArpBindings[0xC0A80A63]);
    }

    [Fact]
    public void A_cold_start_with_no_tables_yet_writes_no_cache_file()
    {
        var lab = new ForwardingLab();
        var options = Options();
        var empty = ForwardingSnapshot.Empty(lab.Snapshot.Ports);
        var dataPlane = new DataPlane(empty, lab.Macs, lab.Counters, lab.Output, Self, 4789);
        var housekeeping = new ForwardingHousekeeping(Microsoft.Extensions.Options.Options.Create(options), dataPlane, _time, NullLogger<ForwardingHousekeeping>.Instance);

        housekeeping.RunOnce();
        _time.Advance(MaxAge);
        housekeeping.RunOnce();

        Assert.Equal(0, housekeeping.Saves);
        Assert.False(File.Exists(CacheFile));
    }
}
