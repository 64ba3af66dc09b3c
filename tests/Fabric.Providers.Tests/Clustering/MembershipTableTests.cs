using System.Net;
using Fabric.Providers.AzureTables;
using Fabric.Providers.Tests.Infrastructure;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Orleans;
using Orleans.Configuration;
using Orleans.Runtime;

namespace Fabric.Providers.Tests.Clustering;

/// <summary>
/// The IMembershipTable contract, after Orleans' own MembershipTableTestsBase cases, against Azurite.
/// Every test uses its own table and cluster id.
/// </summary>
[Collection(AzuriteCollection.Name)]
[Trait("Category", "Storage")]
public sealed class MembershipTableTests(AzuriteFixture azurite) : IAsyncLifetime
{
    private static int s_generation;
    private readonly string _clusterId = "test-" + Guid.NewGuid().ToString("N");
    private readonly string _tableName = "Mbr" + Guid.NewGuid().ToString("N");
    private FabricTableMembershipTable _table = null!;

    public async Task InitializeAsync()
    {
        _table = CreateTable(_clusterId);
        await _table.InitializeMembershipTable(tryInitTableVersion: true);
    }

    public Task DisposeAsync() => _table.DeleteMembershipTableEntries(_clusterId);

    [Fact]
    public async Task An_empty_table_has_version_zero_with_an_etag_and_no_members()
    {
        var data = await _table.ReadAll();

        Assert.Empty(data.Members);
        Assert.Equal(0, data.Version.Version);
        Assert.False(string.IsNullOrEmpty(data.Version.VersionEtag));
    }

    [Fact]
    public async Task Initializing_twice_keeps_the_existing_version_row()
    {
        Assert.True(await _table.InsertRow(NewEntry(), (await _table.ReadAll()).Version.Next()));

        var second = CreateTable(_clusterId);
        await second.InitializeMembershipTable(tryInitTableVersion: true);

        Assert.Equal(1, (await second.ReadAll()).Version.Version);
    }

    [Fact]
    public async Task Insert_adds_the_row_and_bumps_the_table_version()
    {
        var entry = NewEntry();
        var version = (await _table.ReadAll()).Version.Next();

        Assert.True(await _table.InsertRow(entry, version));

        var data = await _table.ReadAll();
        Assert.Equal(1, data.Version.Version);
        Assert.NotEqual(version.VersionEtag, data.Version.VersionEtag);
        var (stored, etag) = Assert.Single(data.Members);
        Assert.False(string.IsNullOrEmpty(etag));
        AssertSameEntry(entry, stored);
    }

    [Fact]
    public async Task Duplicate_insert_or_insert_with_a_stale_table_version_returns_false_and_changes_nothing()
    {
        var entry = NewEntry();
        var version = (await _table.ReadAll()).Version.Next();
        Assert.True(await _table.InsertRow(entry, version));

        Assert.False(await _table.InsertRow(entry, version));            // same entry, old table version
        Assert.False(await _table.InsertRow(NewEntry(), version));       // new entry, old table version
        var data = await _table.ReadAll();
        Assert.False(await _table.InsertRow(entry, data.Version.Next())); // duplicate entry, current version

        data = await _table.ReadAll();
        Assert.Single(data.Members);
        Assert.Equal(1, data.Version.Version);
    }

    [Fact]
    public async Task ReadRow_returns_the_one_silo_and_the_table_version()
    {
        var entry = NewEntry();
        var other = NewEntry();
        Assert.True(await _table.InsertRow(entry, (await _table.ReadAll()).Version.Next()));
        Assert.True(await _table.InsertRow(other, (await _table.ReadAll()).Version.Next()));

        var data = await _table.ReadRow(entry.SiloAddress);

        Assert.Equal(2, data.Version.Version);
        Assert.False(string.IsNullOrEmpty(data.Version.VersionEtag));
        var (stored, etag) = Assert.Single(data.Members);
        Assert.False(string.IsNullOrEmpty(etag));
        AssertSameEntry(entry, stored);

        var missing = await _table.ReadRow(NewEntry().SiloAddress);
        Assert.Empty(missing.Members);
        Assert.Equal(2, missing.Version.Version);
    }

    [Fact]
    public async Task ReadAll_returns_every_silo_with_its_suspicions()
    {
        var entries = Enumerable.Range(0, 5).Select(_ => NewEntry()).ToList();
        entries[2].SuspectTimes = [Tuple.Create(NewAddress(), Seconds(DateTime.UtcNow)), Tuple.Create(NewAddress(), Seconds(DateTime.UtcNow).AddSeconds(1))];
        foreach (var entry in entries)
        {
            Assert.True(await _table.InsertRow(entry, (await _table.ReadAll()).Version.Next()));
        }

        var data = await _table.ReadAll();

        Assert.Equal(5, data.Version.Version);
        Assert.Equal(5, data.Members.Count);
        foreach (var entry in entries)
        {
            AssertSameEntry(entry, data.TryGet(entry.SiloAddress)!.Item1);
        }
    }

    [Fact]
    public async Task UpdateRow_succeeds_only_with_the_current_row_etag_and_table_version()
    {
        var entry = NewEntry();
        var inserted = (await _table.ReadAll()).Version.Next();
        Assert.True(await _table.InsertRow(entry, inserted));
        var data = await _table.ReadAll();
        var etagBefore = data.TryGet(entry.SiloAddress)!.Item2;

        // Correct row ETag, stale table version.
        Assert.False(await _table.UpdateRow(entry, etagBefore, inserted));

        // Correct row ETag and table version.
        entry.Status = SiloStatus.Active;
        var next = data.Version.Next();
        Assert.True(await _table.UpdateRow(entry, etagBefore, next));

        // Stale row ETag, current table version: rejected by the row ETag alone.
        data = await _table.ReadAll();
        Assert.False(await _table.UpdateRow(entry, etagBefore, data.Version.Next()));

        data = await _table.ReadAll();
        Assert.Equal(2, data.Version.Version);
        var (stored, etagAfter) = data.TryGet(entry.SiloAddress)!;
        Assert.Equal(SiloStatus.Active, stored.Status);
        Assert.NotEqual(etagBefore, etagAfter);

        // A row that does not exist cannot be updated, and the table version stays.
        Assert.False(await _table.UpdateRow(NewEntry(), etagAfter, data.Version.Next()));
        Assert.Equal(data.Version, (await _table.ReadAll()).Version);
    }

    [Fact]
    public async Task Concurrent_updates_each_win_exactly_once()
    {
        var entry = NewEntry();
        Assert.True(await _table.InsertRow(entry, (await _table.ReadAll()).Version.Next()));

        var workers = Enumerable.Range(0, 8).Select(async _ =>
        {
            for (var attempt = 0; attempt < 200; attempt++)
            {
                var data = await _table.ReadAll();
                var row = data.TryGet(entry.SiloAddress)!;
                if (await _table.UpdateRow(row.Item1, row.Item2, data.Version.Next()))
                {
                    return;
                }
            }

            Assert.Fail("An update never won.");
        });
        await Task.WhenAll(workers);

        Assert.Equal(9, (await _table.ReadAll()).Version.Version);
    }

    [Fact]
    public async Task IAmAlive_changes_only_the_heartbeat_and_keeps_the_row_etag_usable()
    {
        var entry = NewEntry();
        Assert.True(await _table.InsertRow(entry, (await _table.ReadAll()).Version.Next()));
        var before = await _table.ReadAll();
        var (_, etag) = Assert.Single(before.Members);
        var alive = Seconds(DateTime.UtcNow).AddSeconds(5);

        await _table.UpdateIAmAlive(new MembershipEntry { SiloAddress = entry.SiloAddress, IAmAliveTime = alive });

        var after = await _table.ReadAll();
        Assert.Equal(before.Version, after.Version);
        var (stored, etagAfterHeartbeat) = Assert.Single(after.Members);
        Assert.Equal(alive, stored.IAmAliveTime);
        Assert.Equal(etag, etagAfterHeartbeat);
        AssertSameEntry(entry, stored, compareIAmAlive: false);

        // Orleans 10: a heartbeat must not make the row ETag read before it stale.
        entry.Status = SiloStatus.Active;
        Assert.True(await _table.UpdateRow(entry, etag, before.Version.Next()));
        Assert.Equal(SiloStatus.Active, Assert.Single((await _table.ReadAll()).Members).Item1.Status);
    }

    [Fact]
    public async Task IAmAlive_for_a_silo_that_is_not_in_the_table_fails()
    {
        await Assert.ThrowsAsync<Azure.RequestFailedException>(() =>
            _table.UpdateIAmAlive(new MembershipEntry { SiloAddress = NewAddress(), IAmAliveTime = DateTime.UtcNow }));
        Assert.Empty((await _table.ReadAll()).Members);
    }

    [Fact]
    public async Task Cleanup_removes_only_dead_silos_last_updated_before_the_date()
    {
        var old = Seconds(DateTime.UtcNow).AddDays(-10);
        var oldDead = NewEntry(SiloStatus.Dead, old);
        var recentDead = NewEntry(SiloStatus.Dead);
        var oldActive = NewEntry(SiloStatus.Active, old);
        var oldJoining = NewEntry(SiloStatus.Joining, old);
        foreach (var entry in new[] { oldDead, recentDead, oldActive, oldJoining })
        {
            Assert.True(await _table.InsertRow(entry, (await _table.ReadAll()).Version.Next()));
        }

        var before = await _table.ReadAll();
        await _table.CleanupDefunctSiloEntries(old.AddDays(3));

        var after = await _table.ReadAll();
        Assert.Equal(before.Version, after.Version);
        Assert.Equal(
            new[] { recentDead, oldActive, oldJoining }.Select(e => e.SiloAddress.ToParsableString()).Order(),
            after.Members.Select(m => m.Item1.SiloAddress.ToParsableString()).Order());

        // Idempotent.
        await _table.CleanupDefunctSiloEntries(old.AddDays(3));
        Assert.Equal(3, (await _table.ReadAll()).Members.Count);
    }

    [Fact]
    public async Task Deleting_a_clusters_entries_leaves_other_clusters_alone()
    {
        var otherCluster = CreateTable("other-" + Guid.NewGuid().ToString("N"));
        await otherCluster.InitializeMembershipTable(true);
        Assert.True(await otherCluster.InsertRow(NewEntry(), (await otherCluster.ReadAll()).Version.Next()));
        Assert.True(await _table.InsertRow(NewEntry(), (await _table.ReadAll()).Version.Next()));

        await _table.DeleteMembershipTableEntries(_clusterId);

        await Assert.ThrowsAsync<InvalidOperationException>(() => _table.ReadAll());
        Assert.Single((await otherCluster.ReadAll()).Members);

        // A silo starting afterwards recreates the version row from zero.
        await _table.InitializeMembershipTable(true);
        var data = await _table.ReadAll();
        Assert.Empty(data.Members);
        Assert.Equal(0, data.Version.Version);
    }

    [Fact]
    public async Task Gateway_list_holds_only_active_silos_with_a_gateway_port()
    {
        var entries = Enumerable.Range(0, 6).Select(_ => NewEntry()).ToArray();
        entries[1].Status = SiloStatus.Active;
        entries[2].Status = SiloStatus.Active;
        entries[2].ProxyPort = 0;
        entries[4].Status = SiloStatus.Active;
        foreach (var entry in entries)
        {
            Assert.True(await _table.InsertRow(entry, (await _table.ReadAll()).Version.Next()));
        }

        var provider = new FabricTableGatewayListProvider(
            Options.Create(TableOptions(azurite.ConnectionString)),
            Options.Create(new ClusterOptions { ClusterId = _clusterId, ServiceId = "fabric" }),
            Options.Create(new GatewayOptions()),
            NullLogger<FabricTableGatewayListProvider>.Instance);
        await provider.InitializeGatewayListProvider();

        var gateways = (await provider.GetGateways()).Select(g => g.ToString()).Order().ToList();

        Assert.Equal(
            new[] { entries[1], entries[4] }.Select(e => SiloAddress.New(e.SiloAddress.Endpoint.Address, e.ProxyPort, e.SiloAddress.Generation).ToGatewayUri().ToString()).Order(),
            gateways);
    }

    [Fact]
    public async Task Cluster_ids_with_characters_keys_forbid_work()
    {
        var awkward = CreateTable("cluster/with\\bad#chars?" + Guid.NewGuid().ToString("N"));
        await awkward.InitializeMembershipTable(true);
        var entry = NewEntry(SiloStatus.Active);
        Assert.True(await awkward.InsertRow(entry, (await awkward.ReadAll()).Version.Next()));
        AssertSameEntry(entry, Assert.Single((await awkward.ReadAll()).Members).Item1);
    }

    private FabricTableMembershipTable CreateTable(string clusterId) => new(
        Options.Create(TableOptions(azurite.ConnectionString)),
        Options.Create(new ClusterOptions { ClusterId = clusterId, ServiceId = "fabric" }),
        NullLogger<FabricTableMembershipTable>.Instance);

    private FabricTableClusteringOptions TableOptions(string connectionString) => new()
    {
        ConnectionString = connectionString,
        TableName = _tableName,
    };

    private static MembershipEntry NewEntry(SiloStatus status = SiloStatus.Joining, DateTime? time = null)
    {
        var address = NewAddress();
        var now = time ?? Seconds(DateTime.UtcNow);
        return new MembershipEntry
        {
            SiloAddress = address,
            HostName = Dns.GetHostName(),
            SiloName = "silo-" + address.Generation,
            RoleName = "fabric",
            Status = status,
            ProxyPort = 30000,
            UpdateZone = 1,
            FaultZone = 2,
            StartTime = now,
            IAmAliveTime = now,
        };
    }

    private static SiloAddress NewAddress() =>
        SiloAddress.New(IPAddress.Loopback, 11111, Interlocked.Increment(ref s_generation) + Environment.ProcessId * 1000);

    private static DateTime Seconds(DateTime time) =>
        new(time.Ticks - time.Ticks % TimeSpan.TicksPerSecond, DateTimeKind.Utc);

    private static void AssertSameEntry(MembershipEntry expected, MembershipEntry actual, bool compareIAmAlive = true)
    {
        Assert.Equal(expected.SiloAddress, actual.SiloAddress);
        Assert.Equal(expected.Status, actual.Status);
        Assert.Equal(expected.HostName, actual.HostName);
        Assert.Equal(expected.SiloName, actual.SiloName);
        Assert.Equal(expected.RoleName, actual.RoleName);
        Assert.Equal(expected.ProxyPort, actual.ProxyPort);
        Assert.Equal(expected.UpdateZone, actual.UpdateZone);
        Assert.Equal(expected.FaultZone, actual.FaultZone);
        Assert.Equal(expected.StartTime, actual.StartTime);
        if (compareIAmAlive)
        {
            Assert.Equal(expected.IAmAliveTime, actual.IAmAliveTime);
        }

        Assert.Equal(
            (expected.SuspectTimes ?? []).Select(s => (s.Item1.ToParsableString(), s.Item2)),
            (actual.SuspectTimes ?? []).Select(s => (s.Item1.ToParsableString(), s.Item2)));
    }
}
