using System.Net;
using Fabric.Addressing;
using Fabric.Grains;
using Fabric.HostAgent.Configuration;
using Fabric.HostAgent.Control;
using Fabric.HostAgent.Forwarding;
using Fabric.HostAgent.LocalPorts;
using Fabric.HostAgent.Wire;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Fabric.HostAgent.Tests.Control;

/// <summary>
/// The one route from the data plane's learning to the MAC tables, against the real MAC table
/// grains: one call per VNI per round, carrying each MAC with every address it claimed.
/// </summary>
[Collection(GrainsCollection.Name)]
[Trait("Category", "Cluster")]
public sealed class LearnPublisherTests(GrainsFixture fixture)
{
    private static readonly MacAddress Vm1 = MacAddress.Parse("02:00:00:00:10:01");
    private static readonly MacAddress Vm2 = MacAddress.Parse("02:00:00:00:10:02");
    private static readonly MacAddress Vm3 = MacAddress.Parse("02:00:00:00:10:03");
    private static readonly IPAddress Vip = IPAddress.Parse("192.168.100.50");

    private readonly LocalMacTable _macs = new(2);
    private readonly ExternalMacTable _external = new();

    private static readonly IOptions<AgentOptions> AgentSettings = Options.Create(new AgentOptions
    {
        HostId = "h1",
        VtepAddress = "10.0.0.1",
        Switch = "dvs",
        Ports = [new() { Interface = "vm0", PortGroup = "web" }, new() { Interface = "vm1", PortGroup = "web" }],
    });

    private LearnPublisher Publisher() => new(
        fixture.Cluster.Client,
        AgentSettings,
        _macs,
        _external,
        new PortRegistry(AgentSettings, TimeProvider.System),
        TimeProvider.System,
        NullLogger<LearnPublisher>.Instance);

    private IMacTableGrain Table(uint vni) => fixture.Cluster.Client.GetGrain<IMacTableGrain>(vni);

    private static uint Ip(string text) => Ipv4Address.Parse(text);

    private static Dictionary<string, string> Bindings(MacTableSnapshot table) => table.IpBindings.ToDictionary(b => b.Ip.ToString(), b => b.Mac.ToString());

    [Fact]
    public async Task Each_vni_gets_one_call_with_its_macs_and_every_address_they_claimed()
    {
        uint a = GrainsFixture.NextVni(), b = GrainsFixture.NextVni();
        Assert.True(_macs.Learn(a, Vm1.Value, 0, 64, Environment.TickCount64));
        foreach (string ip in new[] { "192.168.100.11", "192.168.100.12", "192.168.100.50" })
        {
            _macs.Claim(a, Vm1.Value, Ip(ip));
        }

        Assert.True(_macs.Learn(a, Vm2.Value, 1, 64, Environment.TickCount64));
        Assert.True(_macs.Learn(b, Vm3.Value, 0, 64, Environment.TickCount64));
        long versionA = (await Table(a).GetSnapshotAsync()).Version, versionB = (await Table(b).GetSnapshotAsync()).Version;
        var publisher = Publisher();

        await publisher.PublishAsync();

        Assert.Equal(2, publisher.Calls);
        Assert.Equal(0, publisher.Pending);
        var tableA = await Table(a).GetSnapshotAsync();
        var tableB = await Table(b).GetSnapshotAsync();
        Assert.Equal(versionA + 1, tableA.Version); // one call, one change for the whole VNI
        Assert.Equal(versionB + 1, tableB.Version);
        Assert.Equal(["02:00:00:00:10:01 h1 10.0.0.1 vm0", "02:00:00:00:10:02 h1 10.0.0.1 vm1"], tableA.Entries.Select(e => $"{e.Mac} {e.HostId} {e.Vtep} {e.Port}").Order());
        Assert.Equal(
            new Dictionary<string, string> { ["192.168.100.11"] = "02:00:00:00:10:01", ["192.168.100.12"] = "02:00:00:00:10:01", ["192.168.100.50"] = "02:00:00:00:10:01" },
            Bindings(tableA));
        Assert.Equal(Vm3, Assert.Single(tableB.Entries).Mac);

        await publisher.PublishAsync(); // nothing new: no call
        Assert.Equal(2, publisher.Calls);
        Assert.Equal(versionA + 1, (await Table(a).GetSnapshotAsync()).Version);
    }

    [Fact]
    public async Task A_new_claim_is_published_and_a_mac_forgotten_before_publishing_is_not()
    {
        uint vni = GrainsFixture.NextVni();
        var publisher = Publisher();
        Assert.True(_macs.Learn(vni, Vm1.Value, 0, 64, Environment.TickCount64));
        await publisher.PublishAsync();

        _macs.Claim(vni, Vm1.Value, Ip("192.168.100.21"));
        Assert.True(_macs.Learn(vni, Vm2.Value, 1, 64, Environment.TickCount64));
        Assert.True(_macs.Forget(vni, Vm2.Value)); // moved to another host meanwhile, say
        await publisher.PublishAsync();

        var table = await Table(vni).GetSnapshotAsync();
        Assert.Equal(2, publisher.Calls);
        Assert.Equal(Vm1, Assert.Single(table.Entries).Mac);
        Assert.Equal(new Dictionary<string, string> { ["192.168.100.21"] = "02:00:00:00:10:01" }, Bindings(table));
    }

    [Fact]
    public async Task An_address_taken_by_another_mac_is_claimed_back_when_its_first_owner_announces_it_again()
    {
        uint vni = GrainsFixture.NextVni();
        var publisher = Publisher();
        var replica = new ClusterReplica("h1", Ipv4Address.Parse("10.0.0.1"), [new PortBindingOptions { Interface = "vm0", PortGroup = "web" }], 4789);
        replica.Configure(new SwitchConfig("dvs", 1450, 1, [new PortGroup("web", new Vni(vni), VlanPolicy.Untagged, new SecurityPolicy(64, false, false))], []), []);
        Assert.True(_macs.Learn(vni, Vm1.Value, 0, 64, Environment.TickCount64));
        _macs.Claim(vni, Vm1.Value, Ipv4Address.FromIPAddress(Vip));
        await publisher.PublishAsync();
        replica.ApplySnapshot(await Table(vni).GetSnapshotAsync(), replace: true, new LocalEffects());

        // The VIP moves to a VM on h2 (its gratuitous ARP, published by h2's agent).
        await Table(vni).LearnAsync([new MacLearnRequest(Vm2, "h2", IPAddress.Parse("10.0.0.2"), "vm0", Vip)]);
        var effects = new LocalEffects();
        replica.ApplySnapshot(await Table(vni).GetSnapshotAsync(), replace: true, effects);
        effects.ApplyTo(_macs);
        Assert.Equal(Vm2.ToString(), Bindings(await Table(vni).GetSnapshotAsync())[Vip.ToString()]);

        // ... and back to Vm1: its next claim is news again, published, and wins.
        _macs.Claim(vni, Vm1.Value, Ipv4Address.FromIPAddress(Vip));
        await publisher.PublishAsync();
        Assert.Equal(Vm1.ToString(), Bindings(await Table(vni).GetSnapshotAsync())[Vip.ToString()]);
    }

    [Fact]
    public async Task A_mac_learned_behind_an_external_vtep_is_published_under_that_vtep_and_kept_while_it_is_learned_again()
    {
        uint vni = GrainsFixture.NextVni();
        var kernelVtep = IPAddress.Parse("10.0.0.3");
        var publisher = Publisher();
        _external.Learn(vni, Vm3.Value, Ipv4Address.FromIPAddress(kernelVtep), Environment.TickCount64);

        await publisher.PublishAsync();

        var entry = Assert.Single((await Table(vni).GetSnapshotAsync()).Entries);
        Assert.Equal((Vm3, "external-10.0.0.3", kernelVtep, "external", false), (entry.Mac, entry.HostId, entry.Vtep, entry.Port, entry.Static));

        // Learned again (housekeeping queues MACs still in use): the table refreshes it, no new version.
        long version = (await Table(vni).GetSnapshotAsync()).Version;
        _external.RequeueAll();
        await publisher.PublishAsync();
        var refreshed = await Table(vni).GetSnapshotAsync();
        Assert.Equal(version, refreshed.Version);
        Assert.True(Assert.Single(refreshed.Entries).LearnedAt > entry.LearnedAt);
    }
}
