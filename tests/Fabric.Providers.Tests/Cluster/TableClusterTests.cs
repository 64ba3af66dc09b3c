using System.Diagnostics;
using System.Net;
using Azure.Data.Tables;
using Fabric.Addressing;
using Fabric.Providers.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Messaging;
using Orleans.Runtime;
using Xunit.Abstractions;

namespace Fabric.Providers.Tests.Cluster;

/// <summary>
/// Two silos that find each other only through the membership table Fabric configures, a client that
/// finds them through the same table, and grain state kept in the grain table by the official provider.
/// </summary>
[Collection(TableClusterCollection.Name)]
[Trait("Category", "Storage")]
[Trait("Category", "Cluster")]
public sealed class TableClusterTests(TableClusterFixture fixture, ITestOutputHelper output)
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    private static readonly MacAddress Mac1 = new(0x02_77_00_00_00_01);
    private static readonly MacAddress Mac2 = new(0x02_77_00_00_00_02);

    [Fact]
    public async Task Two_silos_form_a_cluster_through_the_configured_membership_table()
    {
        var management = fixture.Cluster.Client.GetGrain<IManagementGrain>(0);
        var active = await management.GetHosts(onlyActive: true);
        Assert.Equal(TableClusterFixture.Size, active.Count);

        // The rows are in the table named by Fabric:Storage:TableName, one partition per cluster id.
        var rows = await ReadMembershipRowsAsync();
        var activeRows = rows.Where(r => r.GetString("Status") == nameof(SiloStatus.Active)).ToList();
        Assert.Equal(TableClusterFixture.Size, activeRows.Count);
        Assert.All(activeRows, r => Assert.Equal(fixture.Cluster.Options.ClusterId, r.PartitionKey));
    }

    [Fact]
    public async Task A_client_finds_every_active_gateway_in_the_membership_table()
    {
        var provider = fixture.Cluster.Client.ServiceProvider.GetRequiredService<IGatewayListProvider>();
        var expected = fixture.Cluster.GetActiveSilos().Select(s => s.GatewayAddress.Endpoint.Port).Order().ToArray();

        var gateways = await provider.GetGateways();

        Assert.Equal(expected, gateways.Select(g => g.Port).Order().ToArray());
        Assert.Equal(TableClusterFixture.Size, expected.Length);
    }

    [Fact]
    public async Task State_with_ip_addresses_and_mac_keyed_dictionaries_is_read_back_by_a_new_activation()
    {
        // With the silo's default (JSON) grain storage serializer this failed: IPAddress and MacAddress
        // keys cannot be read back, so every grain holding a VTEP lost its state on re-activation.
        var grain = fixture.Cluster.Client.GetGrain<IVtepBookGrain>("segment-5001");
        await grain.AddAsync("h1", IPAddress.Parse("10.0.0.1"), Mac1);
        await grain.AddAsync("h2", IPAddress.Parse("10.0.0.2"), Mac2);
        await grain.DeactivateAsync();

        var state = await grain.GetAsync();

        AssertBook(state, writes: 2);
    }

    [Fact]
    public async Task Grain_state_survives_a_restart_of_every_silo_and_the_client_finds_the_new_gateways()
    {
        var grain = fixture.Cluster.Client.GetGrain<IVtepBookGrain>("segment-5002");
        await grain.AddAsync("h1", IPAddress.Parse("10.0.0.1"), Mac1);
        await grain.AddAsync("h2", IPAddress.Parse("10.0.0.2"), Mac2);

        var clock = Stopwatch.StartNew();
        await fixture.Cluster.StopAllSilosAsync();
        await fixture.Cluster.StartAdditionalSilosAsync(TableClusterFixture.Size, startAdditionalSiloOnNewPort: true);
        await fixture.Cluster.InitializeClientAsync();
        output.WriteLine($"every silo stopped and two new ones started, client connected, in {clock.Elapsed.TotalSeconds:0.0} s");

        var state = await fixture.Cluster.Client.GetGrain<IVtepBookGrain>("segment-5002").GetAsync();
        AssertBook(state, writes: 2);
        var management = fixture.Cluster.Client.GetGrain<IManagementGrain>(0);
        await WaitUntilAsync(async () => (await management.GetHosts(onlyActive: true)).Count == TableClusterFixture.Size, "two active silos after the restart");
    }

    private static void AssertBook(VtepBookState state, int writes)
    {
        Assert.Equal(writes, state.Writes);
        Assert.Equal(IPAddress.Parse("10.0.0.1"), state.Vteps["h1"]);
        Assert.Equal(IPAddress.Parse("10.0.0.2"), state.Vteps["h2"]);
        Assert.Equal(IPAddress.Parse("10.0.0.1"), state.Macs[Mac1]);
        Assert.Equal(IPAddress.Parse("10.0.0.2"), state.Macs[Mac2]);
        Assert.Equal(IPAddress.Parse("10.0.0.2"), state.Last);
    }

    private async Task<List<TableEntity>> ReadMembershipRowsAsync()
    {
        var rows = new List<TableEntity>();
        await foreach (var row in fixture.Table(fixture.MembershipTable).QueryAsync<TableEntity>())
        {
            rows.Add(row);
        }

        return rows;
    }

    private static async Task WaitUntilAsync(Func<Task<bool>> condition, string what)
    {
        var clock = Stopwatch.StartNew();
        while (!await condition())
        {
            Assert.True(clock.Elapsed < Bound, $"not true within {Bound.TotalSeconds} s: {what}");
            await Task.Delay(100);
        }
    }
}
