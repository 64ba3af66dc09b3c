using System.Diagnostics;
using Fabric.Grains.Tests.Infrastructure;

namespace Fabric.Grains.Tests;

[Collection(ClusterCollection.Name)]
[Trait("Category", "Cluster")]
public sealed class HostTests(ClusterFixture fixture) : ClusterTest(fixture)
{
    [Fact]
    public async Task Registering_joins_the_flood_lists_of_its_port_groups_and_reregistering_leaves_the_unused_ones()
    {
        var (sw, web, webVni) = await NewPortGroupAsync();
        var dbVni = Names.NextVni();
        await Switch(sw).SetPortGroupAsync("db", new PortGroupSpec(dbVni));
        string host = Names.Unique("host");

        var info = await RegisterAsync(host, sw, Vtep(1), ("vm1", web), ("vm2", "db"), ("vm3", web));
        Assert.True(info.Alive);
        Assert.Contains(host, await Directory.ListHostsAsync());
        Assert.Contains(new FloodListEntry(host, Vtep(1)), (await Segment(webVni).GetAsync()).FloodList);
        Assert.Contains(new FloodListEntry(host, Vtep(1)), (await Segment(dbVni).GetAsync()).FloodList);

        await RegisterAsync(host, sw, Vtep(1), ("vm1", web));
        Assert.DoesNotContain((await Segment(dbVni).GetAsync()).FloodList, e => e.HostId == host);
        Assert.Contains(new FloodListEntry(host, Vtep(1)), (await Segment(webVni).GetAsync()).FloodList);
        Assert.Equal([host], (await Switch(sw).GetPortGroupUsageAsync())[web]);
        Assert.Empty((await Switch(sw).GetPortGroupUsageAsync())["db"]);
    }

    [Fact]
    public async Task Reregistering_without_a_port_withdraws_the_macs_learned_on_it_and_keeps_the_others()
    {
        var (sw, web, vni) = await NewPortGroupAsync();
        string host = Names.Unique("host");
        await RegisterAsync(host, sw, Vtep(1), ("vm1", web), ("ctr1", web));
        var kept = Names.NextMac();
        var gone = Names.NextMac();
        var pinned = Names.NextMac();
        await MacTable(vni).LearnAsync([Learn(kept, host, 1, "vm1"), Learn(gone, host, 1, "ctr1")]);
        await MacTable(vni).SetStaticAsync(pinned, host, Vtep(1), "ctr1");

        // The container's port was detached at run time: the agent registers without it.
        await RegisterAsync(host, sw, Vtep(1), ("vm1", web));

        var macs = (await MacTable(vni).GetSnapshotAsync()).Entries.Select(e => e.Mac).ToList();
        Assert.Contains(kept, macs);
        Assert.DoesNotContain(gone, macs);
        Assert.Contains(pinned, macs); // an operator's static MAC stays until the operator removes it
        Assert.Contains(new FloodListEntry(host, Vtep(1)), (await Segment(vni).GetAsync()).FloodList);
    }

    [Fact]
    public async Task Port_requests_are_stored_versioned_shown_to_the_agent_in_heartbeats_and_carry_its_report()
    {
        var (sw, web, _) = await NewPortGroupAsync();
        string host = Names.Unique("host");
        await RegisterAsync(host, sw, Vtep(1), ("vm1", web));
        long before = (await Host(host).HeartbeatAsync(1)).PortRequestsVersion;

        var requests = await Host(host).RequestPortAsync(new RequestedPort("ctr1", web, "02:00:00:00:00:21", ["10.20.0.21"]));
        Assert.Equal(before + 1, requests.Version);
        Assert.Equal(requests.Version, (await Host(host).HeartbeatAsync(1)).PortRequestsVersion);
        Assert.Equal(0, requests.ReportedVersion); // the agent has not reported on it yet

        // Asking again for the same interface replaces the request.
        requests = await Host(host).RequestPortAsync(new RequestedPort("ctr1", web));
        Assert.Equal((before + 2, null), (requests.Version, requests.Requests.Single().Mac));

        await Host(host).ReportPortRequestsAsync(requests.Version, [new PortRequestStatus("ctr1", "interface ctr1 cannot be opened")]);
        var read = await Host(host).GetPortRequestsAsync();
        Assert.Equal((requests.Version, "interface ctr1 cannot be opened"), (read.ReportedVersion, read.Statuses.Single().Error));

        Assert.True(await Host(host).WithdrawPortRequestAsync("ctr1"));
        Assert.False(await Host(host).WithdrawPortRequestAsync("ctr1"));
        Assert.Empty((await Host(host).GetPortRequestsAsync()).Requests);
    }

    [Theory]
    [InlineData("this-name-is-too-long", "web", null, null, "interface")]
    [InlineData("ctr1", "", null, null, "portGroup")]
    [InlineData("ctr1", "web", "01:00:5e:00:00:01", null, "mac")]
    [InlineData("ctr1", "web", "02:00:00:00:00:01", "224.0.0.1", "ipv4[0]")]
    [InlineData("ctr1", "web", null, "10.0.0.1", "ipv4")]
    public async Task A_bad_port_request_is_refused_naming_the_field_and_stores_nothing(string name, string portGroup, string? mac, string? ip, string field)
    {
        var (sw, web, _) = await NewPortGroupAsync();
        string host = Names.Unique("host");
        await RegisterAsync(host, sw, Vtep(1), ("vm1", web));
        var request = new RequestedPort(name, portGroup == "web" ? web : portGroup, mac, ip is null ? null : [ip]);

        var error = await Assert.ThrowsAsync<FabricValidationException>(() => Host(host).RequestPortAsync(request));
        Assert.Equal(field, error.Field);
        Assert.Empty((await Host(host).GetPortRequestsAsync()).Requests);
        await Assert.ThrowsAsync<FabricNotFoundException>(() => Host(host).RequestPortAsync(new RequestedPort("ctr1", "no-such-group")));
    }

    [Fact]
    public async Task Registering_with_an_unknown_switch_or_port_group_is_not_found_and_changes_nothing()
    {
        var (sw, web, webVni) = await NewPortGroupAsync();
        string host = Names.Unique("host");

        var noPortGroup = await Assert.ThrowsAsync<FabricNotFoundException>(() => RegisterAsync(host, sw, Vtep(1), ("vm1", web), ("vm2", "nope")));
        Assert.Equal(("port group", "nope"), (noPortGroup.Kind, noPortGroup.Name));
        var noSwitch = await Assert.ThrowsAsync<FabricNotFoundException>(() => RegisterAsync(host, Names.Unique("missing"), Vtep(1), ("vm1", web)));
        Assert.Equal("switch", noSwitch.Kind);

        Assert.Null(await Host(host).GetAsync());
        Assert.Empty((await Segment(webVni).GetAsync()).FloodList);
        Assert.Empty((await Switch(sw).GetPortGroupUsageAsync())[web]);
        await Assert.ThrowsAsync<FabricNotFoundException>(() => Host(host).HeartbeatAsync(1));
    }

    [Fact]
    public async Task Removing_a_port_group_that_a_registered_host_port_uses_is_rejected_until_the_host_unregisters()
    {
        var (sw, web, vni) = await NewPortGroupAsync();
        string host = Names.Unique("host");
        await RegisterAsync(host, sw, Vtep(1), ("vm1", web));
        var before = await Switch(sw).GetAsync();

        var error = await Assert.ThrowsAsync<FabricValidationException>(() => Switch(sw).RemovePortGroupAsync(web));
        Assert.Equal("portGroup", error.Field);
        Assert.Contains("in use", error.Message);
        var vniChange = await Assert.ThrowsAsync<FabricValidationException>(() => Switch(sw).SetPortGroupAsync(web, new PortGroupSpec(Names.NextVni())));
        Assert.Equal("vni", vniChange.Field);
        Assert.Equal(before!.Version, (await Switch(sw).GetAsync())!.Version);

        await Host(host).UnregisterAsync();
        Assert.Null(await Host(host).GetAsync());
        Assert.Empty((await Segment(vni).GetAsync()).FloodList);
        Assert.DoesNotContain(host, await Directory.ListHostsAsync());
        Assert.Empty((await Switch(sw).RemovePortGroupAsync(web)).PortGroups);
    }

    [Theory]
    [InlineData("0.0.0.0", "vtep")]
    [InlineData("255.255.255.255", "vtep")]
    [InlineData("10.0.0.1", "ports[1].name")]
    public async Task A_bad_registration_is_rejected_with_the_field_named(string vtep, string field)
    {
        var (sw, web, _) = await NewPortGroupAsync();
        string host = Names.Unique("host");
        var ports = new List<HostPort> { new("vm1", web), new(field.StartsWith("ports", StringComparison.Ordinal) ? "vm1" : "vm2", web) };

        var error = await Assert.ThrowsAsync<FabricValidationException>(
            () => Host(host).RegisterAsync(new HostRegistration(System.Net.IPAddress.Parse(vtep), "1.0", sw, ports)));
        Assert.Equal(field, error.Field);
        Assert.Null(await Host(host).GetAsync());
    }

    [Fact]
    public async Task A_host_that_stops_heartbeating_is_declared_dead_its_macs_withdrawn_and_it_leaves_the_flood_list_until_it_is_heard_again()
    {
        var (sw, web, vni) = await NewPortGroupAsync();
        string quiet = Names.Unique("quiet");
        string chatty = Names.Unique("chatty");
        await RegisterAsync(quiet, sw, Vtep(1), ("vm1", web));
        await RegisterAsync(chatty, sw, Vtep(2), ("vm2", web));
        var quietMac = Names.NextMac();
        var chattyMac = Names.NextMac();
        await MacTable(vni).LearnAsync([Learn(quietMac, quiet, 1, "vm1"), Learn(chattyMac, chatty, 2, "vm2")]);

        var segment = new SegmentRecorder();
        var macs = new MacTableRecorder();
        await Segment(vni).SubscribeAsync(Fixture.Client.CreateObjectReference<ISegmentObserver>(segment));
        await MacTable(vni).SubscribeAsync(Fixture.Client.CreateObjectReference<IMacTableObserver>(macs));

        // The chatty host keeps heartbeating while the quiet one says nothing.
        using var stop = new CancellationTokenSource();
        var heartbeats = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                await Host(chatty).HeartbeatAsync(1);
                await Task.Delay(200, CancellationToken.None);
            }
        });

        var clock = Stopwatch.StartNew();
        var left = await segment.Deltas.WaitForAsync(d => d.Removed?.HostId == quiet);
        var withdrawn = await macs.Deltas.WaitForAsync(d => d.Changes.Any(c => c.Kind == MacChangeKind.Removed && c.Entry.Mac == quietMac));
        Assert.True(clock.Elapsed >= ClusterFixture.DeadAfter - TimeSpan.FromSeconds(1), $"declared dead after {clock.Elapsed}");
        Assert.Single(withdrawn.Changes);

        // Dead is marked after the withdrawals the deltas show (a failed one is retried on the next tick).
        await Eventually.AssertAsync(
            async () => Assert.False((await Host(quiet).GetAsync())!.Alive),
            TimeSpan.FromSeconds(10),
            "the quiet host's grain to show it dead");
        Assert.True((await Host(chatty).GetAsync())!.Alive);
        Assert.Equal([chatty], (await Segment(vni).GetAsync()).FloodList.Select(e => e.HostId));
        Assert.Equal([chattyMac], (await MacTable(vni).GetSnapshotAsync()).Entries.Select(e => e.Mac));

        // Heard from again: back in the flood list, and told to publish its MACs again.
        var ack = await Host(quiet).HeartbeatAsync(7);
        Assert.True(ack.Revived);
        await segment.Deltas.WaitForAsync(d => d.Added?.HostId == quiet && d.Version > left.Version);
        var revived = await Host(quiet).GetAsync();
        Assert.True(revived!.Alive);
        Assert.Equal(7, revived.AppliedGeneration);

        stop.Cancel();
        await heartbeats;
        await Host(quiet).UnregisterAsync();
        await Host(chatty).UnregisterAsync();
        GC.KeepAlive(segment);
        GC.KeepAlive(macs);
    }
}
