using System.Net;
using Fabric.Addressing;
using Fabric.Grains;
using Fabric.HostAgent.Configuration;
using Fabric.HostAgent.Control;
using Fabric.HostAgent.Forwarding;
using Fabric.HostAgent.Wire;

namespace Fabric.HostAgent.Tests.Control;

/// <summary>
/// The replica of the cluster state on its own, no cluster: the version rule for deltas and
/// snapshots (docs/architecture.md, "Rules"), what it tells the local MAC table, and the tables it builds.
/// </summary>
[Trait("Category", "Unit")]
public sealed class ClusterReplicaTests
{
    private const string Self = "h1";
    private const uint Web = 5001;
    private const uint Db = 5002;
    private static readonly Guid EpochA = Guid.Parse("00000000-0000-0000-0000-00000000000a");
    private static readonly Guid EpochB = Guid.Parse("00000000-0000-0000-0000-00000000000b");
    private static readonly MacAddress Vm1 = MacAddress.Parse("02:00:00:00:00:01");
    private static readonly MacAddress Vm2 = MacAddress.Parse("02:00:00:00:00:02");
    private static readonly IPAddress Vip = IPAddress.Parse("192.168.100.50");

    private readonly DataPlaneCounters _counters = new(2);

    private static SwitchConfig Config(long version, params (string Name, uint Vni)[] groups)
        => new("dvs", 1450, version, [.. groups.Select(g => new PortGroup(g.Name, new Vni(g.Vni), VlanPolicy.Untagged, new SecurityPolicy(64, false, false)))], []);

    private static ClusterReplica Replica(params (string Interface, string PortGroup)[] ports)
        => new(Self, Ipv4Address.Parse("10.0.0.1"), [.. ports.Select(p => new PortBindingOptions { Interface = p.Interface, PortGroup = p.PortGroup })], 4789);

    /// <summary>A replica with vm1 on web and vm2 on db, both segments and tables at version 1 of epoch A.</summary>
    private static ClusterReplica Configured(out LocalEffects effects)
    {
        var replica = Replica(("vm1", "web"), ("vm2", "db"));
        replica.Configure(Config(1, ("web", Web), ("db", Db)), []);
        effects = new LocalEffects();
        foreach (uint vni in new[] { Web, Db })
        {
            Assert.True(replica.ApplySnapshot(Segment(vni, EpochA, 1, ("h2", "10.0.0.2")), replace: true));
            Assert.True(replica.ApplySnapshot(Table(vni, EpochA, 1), replace: true, effects));
        }

        return replica;
    }

    private static SegmentSnapshot Segment(uint vni, Guid epoch, long version, params (string Host, string Vtep)[] flood)
        => new(new Vni(vni), epoch, version, [.. flood.Select(f => new FloodListEntry(f.Host, IPAddress.Parse(f.Vtep)))]);

    private static MacTableSnapshot Table(uint vni, Guid epoch, long version, MacEntry[]? entries = null, IpBinding[]? bindings = null)
        => new(new Vni(vni), epoch, version, entries ?? [], bindings ?? []);

    private static MacEntry Entry(MacAddress mac, string host, string vtep, long sequence = 1)
        => new(mac, host, IPAddress.Parse(vtep), "eth0", sequence, DateTimeOffset.UnixEpoch, false, false);

    private static SegmentDelta Joined(uint vni, Guid epoch, long version, string host, string vtep)
        => new(new Vni(vni), epoch, version, new FloodListEntry(host, IPAddress.Parse(vtep)), null);

    private static MacTableDelta Learned(uint vni, Guid epoch, long version, MacEntry entry, params IpBindingChange[] bindings)
        => new(new Vni(vni), epoch, version, [new MacChange(MacChangeKind.Learned, entry, null)], bindings);

    private string[] FloodList(ClusterReplica replica, uint vni)
        => [.. replica.Build(_counters)!.Segments[vni].FloodList.Select(v => Ipv4Address.Format(v.Address)).Order()];

    [Fact]
    public void Configure_maps_ports_to_vnis_registers_trunk_sub_ports_and_reports_unknown_port_groups()
    {
        var replica = Replica(("vm1", "web"), ("trunk0", "trunk"), ("vm9", "nope"));
        var config = new SwitchConfig("dvs", 1450, 3,
        [
            new PortGroup("web", new Vni(Web), VlanPolicy.AccessOn(new VlanId(100)), new SecurityPolicy(64, false, false)),
            new PortGroup("db", new Vni(Db), VlanPolicy.AccessOn(new VlanId(200)), new SecurityPolicy(64, false, false)),
            new PortGroup("trunk", new Vni(5009), VlanPolicy.Trunk([new VlanRange(new VlanId(100), new VlanId(200))], null), new SecurityPolicy(64, false, false)),
        ], []);
        var unknown = new List<PortForwarding>();

        var hostPorts = replica.Configure(config, unknown);

        Assert.Equal([Web, Db, 5009u], replica.Vnis.Order());
        Assert.Equal(["trunk0.100/web", "trunk0.200/db", "trunk0/trunk", "vm1/web"], hostPorts.Select(p => $"{p.Name}/{p.PortGroup}").Order());
        Assert.Equal("vm9", Assert.Single(unknown).Name);
        Assert.True(replica.Carries(0, Web));
        Assert.False(replica.Carries(0, Db));
        Assert.True(replica.Carries(1, Db));
        Assert.False(replica.Carries(2, Web));
        Assert.Equal(3, replica.Build(_counters)!.Generation);
    }

    [Fact]
    public void A_delta_that_follows_the_version_is_applied_and_rebuilt_into_the_tables()
    {
        var replica = Configured(out _);

        Assert.Equal(DeltaOutcome.Applied, replica.Apply(Joined(Web, EpochA, 2, "h3", "10.0.0.3")));

        Assert.Equal(["10.0.0.2", "10.0.0.3"], FloodList(replica, Web));
        Assert.False(replica.HasStale);
    }

    [Fact]
    public void An_older_delta_of_the_same_activation_is_ignored()
    {
        var replica = Configured(out _);
        Assert.Equal(DeltaOutcome.Applied, replica.Apply(Joined(Web, EpochA, 2, "h3", "10.0.0.3")));

        // Version 2 again (one-way pushes may arrive twice or late through another gateway), then 1.
        Assert.Equal(DeltaOutcome.Old, replica.Apply(new SegmentDelta(new Vni(Web), EpochA, 2, null, new FloodListEntry("h3", IPAddress.Parse("10.0.0.3")))));
        Assert.Equal(DeltaOutcome.Old, replica.Apply(Joined(Web, EpochA, 1, "h4", "10.0.0.4")));

        Assert.Equal(["10.0.0.2", "10.0.0.3"], FloodList(replica, Web));
        Assert.False(replica.HasStale);
    }

    [Theory]
    [InlineData(3, false)] // a gap: version 2 never arrived
    [InlineData(2, true)]  // the next version, but of a new activation
    [InlineData(1, true)]  // a new activation starting again at 1
    public void A_gap_or_a_new_activation_marks_the_vni_stale_and_changes_nothing_until_the_snapshot(long version, bool newEpoch)
    {
        var replica = Configured(out _);
        var epoch = newEpoch ? EpochB : EpochA;

        Assert.Equal(DeltaOutcome.Gap, replica.Apply(Joined(Web, epoch, version, "h3", "10.0.0.3")));
        Assert.Equal(DeltaOutcome.Gap, replica.Apply(Learned(Web, epoch, version, Entry(Vm2, "h3", "10.0.0.3")), new LocalEffects()));

        Assert.Equal(["10.0.0.2"], FloodList(replica, Web));
        Assert.Equal([Web], replica.TakeStale());
        Assert.Empty(replica.TakeStale());

        // The fetched snapshot replaces what we held, whatever its version.
        Assert.True(replica.ApplySnapshot(Segment(Web, epoch, version, ("h2", "10.0.0.2"), ("h3", "10.0.0.3")), replace: true));
        Assert.Equal(["10.0.0.2", "10.0.0.3"], FloodList(replica, Web));
        Assert.Equal(DeltaOutcome.Applied, replica.Apply(Joined(Web, epoch, version + 1, "h4", "10.0.0.4")));
    }

    [Fact]
    public void A_renewal_snapshot_replaces_ours_only_when_newer_or_from_a_new_activation()
    {
        var replica = Configured(out var effects);
        Assert.Equal(DeltaOutcome.Applied, replica.Apply(Joined(Web, EpochA, 2, "h3", "10.0.0.3")));

        // A renewal answered with an older snapshot of the same activation (the delta overtook it).
        Assert.False(replica.ApplySnapshot(Segment(Web, EpochA, 1, ("h2", "10.0.0.2")), replace: false));
        Assert.Equal(["10.0.0.2", "10.0.0.3"], FloodList(replica, Web));

        Assert.True(replica.ApplySnapshot(Segment(Web, EpochA, 3, ("h3", "10.0.0.3")), replace: false));
        Assert.Equal(["10.0.0.3"], FloodList(replica, Web));

        // The grain was re-activated (its silo died): a new epoch wins even at a lower version.
        Assert.True(replica.ApplySnapshot(Segment(Web, EpochB, 1, ("h4", "10.0.0.4")), replace: false));
        Assert.Equal(["10.0.0.4"], FloodList(replica, Web));
        Assert.False(replica.ApplySnapshot(Table(Web, EpochA, 1), replace: false, effects));
        Assert.True(replica.ApplySnapshot(Table(Web, EpochB, 1), replace: false, effects));
    }

    [Fact]
    public void A_mac_learned_at_another_host_is_forwarded_there_and_reported_as_moved_away_from_us()
    {
        var replica = Configured(out _);
        var effects = new LocalEffects();

        Assert.Equal(DeltaOutcome.Applied, replica.Apply(Learned(Web, EpochA, 2, Entry(Vm1, "h2", "10.0.0.2", sequence: 2)), effects));
        Assert.Equal(DeltaOutcome.Applied, replica.Apply(Learned(Web, EpochA, 3, Entry(Vm2, Self, "10.0.0.1")), effects));

        Assert.Equal([new MacKey(Web, Vm1.Value)], effects.MovedAway);
        var segment = replica.Build(_counters)!.Segments[Web];
        Assert.Equal("10.0.0.2", Ipv4Address.Format(segment.RemoteMacs[Vm1.Value].Address));
        Assert.False(segment.RemoteMacs.ContainsKey(Vm2.Value)); // our own MAC is delivered locally, never tunnelled
    }

    [Fact]
    public void An_ip_bound_to_another_mac_or_unbound_is_reported_as_a_lost_claim_of_the_previous_mac()
    {
        var replica = Configured(out _);
        var effects = new LocalEffects();
        uint vip = Ipv4Address.FromIPAddress(Vip);
        replica.Apply(Learned(Web, EpochA, 2, Entry(Vm1, Self, "10.0.0.1"), new IpBindingChange(Vip, Vm1)), effects);
        Assert.Empty(effects.ClaimsLost);

        replica.Apply(Learned(Web, EpochA, 3, Entry(Vm2, "h2", "10.0.0.2"), new IpBindingChange(Vip, Vm2)), effects);
        Assert.Equal([(new MacKey(Web, Vm1.Value), vip)], effects.ClaimsLost);
        Assert.Equal(Vm2.Value, replica.Build(_counters)!.Segments[Web].ArpBindings[vip]);

        var unbound = new LocalEffects();
        replica.Apply(new MacTableDelta(new Vni(Web), EpochA, 4, [], [new IpBindingChange(Vip, null)]), unbound);
        Assert.Equal([(new MacKey(Web, Vm2.Value), vip)], unbound.ClaimsLost);
        Assert.False(replica.Build(_counters)!.Segments[Web].ArpBindings.ContainsKey(vip));
    }

    [Fact]
    public void A_snapshot_that_binds_our_ip_elsewhere_reports_the_lost_claim_and_the_macs_held_by_other_hosts()
    {
        var replica = Configured(out _);
        uint vip = Ipv4Address.FromIPAddress(Vip);
        replica.ApplySnapshot(Table(Web, EpochA, 2, [Entry(Vm1, Self, "10.0.0.1")], [new IpBinding(Vip, Vm1)]), replace: true, new LocalEffects());

        var effects = new LocalEffects();
        replica.ApplySnapshot(Table(Web, EpochB, 1, [Entry(Vm1, "h2", "10.0.0.2", 2), Entry(Vm2, "h2", "10.0.0.2")], [new IpBinding(Vip, Vm2)]), replace: false, effects);

        Assert.Equal([(new MacKey(Web, Vm1.Value), vip)], effects.ClaimsLost);
        Assert.Equal([Vm1.Value, Vm2.Value], effects.MovedAway.Select(k => k.Mac).Order());
        Assert.All(effects.MovedAway, k => Assert.Equal(Web, k.Vni));
    }

    [Fact]
    public void The_effects_forget_moved_macs_and_release_lost_claims_in_the_local_table()
    {
        var macs = new LocalMacTable(1);
        Assert.True(macs.Learn(Web, Vm1.Value, 0, 64, 0));
        Assert.True(macs.Learn(Web, Vm2.Value, 0, 64, 0));
        uint vip = Ipv4Address.FromIPAddress(Vip);
        macs.Claim(Web, Vm2.Value, vip);
        var effects = new LocalEffects();
        effects.MovedAway.Add(new MacKey(Web, Vm1.Value));
        effects.ClaimsLost.Add((new MacKey(Web, Vm2.Value), vip));

        effects.ApplyTo(macs);

        Assert.False(macs.TryGet(Web, Vm1.Value, out _));
        Assert.True(macs.TryGet(Web, Vm2.Value, out var kept));
        Assert.Empty(kept.Claims);
    }

    [Fact]
    public void A_new_configuration_drops_the_state_of_vnis_no_port_carries_and_ignores_their_deltas()
    {
        var replica = Configured(out _);
        Assert.Equal(DeltaOutcome.Gap, replica.Apply(Joined(Db, EpochA, 5, "h3", "10.0.0.3")));

        replica.Configure(Config(2, ("web", Web), ("db", 5003)), []); // db moved to another VNI

        Assert.Equal([Web, 5003u], replica.Vnis.Order());
        Assert.Empty(replica.TakeStale());
        Assert.Equal(DeltaOutcome.Old, replica.Apply(Joined(Db, EpochA, 2, "h3", "10.0.0.3")));
        Assert.False(replica.ApplySnapshot(Segment(Db, EpochA, 9), replace: true));
        var tables = replica.Build(_counters)!;
        Assert.Equal([Web, 5003u], tables.Segments.Keys.Order());
        Assert.Empty(tables.Segments[5003].FloodList); // nothing known of it until its snapshot
        Assert.Equal(2, tables.Generation);
    }

    [Fact]
    public void Nothing_is_built_before_the_first_configuration()
    {
        var replica = Replica(("vm1", "web"));

        Assert.Null(replica.Build(_counters));
        Assert.Equal(DeltaOutcome.Old, replica.Apply(Joined(Web, EpochA, 1, "h2", "10.0.0.2")));
    }

    [Fact]
    public void A_duplicate_address_is_not_proxied_and_is_again_once_the_flag_is_cleared()
    {
        var replica = Configured(out _);
        uint vip = Ipv4Address.FromIPAddress(Vip);
        replica.Apply(Learned(Web, EpochA, 2, Entry(Vm2, "h2", "10.0.0.2"), new IpBindingChange(Vip, Vm2, 1)), new LocalEffects());
        Assert.Equal(Vm2.Value, replica.Build(_counters)!.Segments[Web].ArpBindings[vip]);

        replica.Apply(new MacTableDelta(new Vni(Web), EpochA, 3, [], [new IpBindingChange(Vip, Vm2, 6, Duplicate: true)]), new LocalEffects());
        Assert.False(replica.Build(_counters)!.Segments[Web].ArpBindings.ContainsKey(vip));

        // After an operator removed the binding, a new claim binds it afresh.
        replica.Apply(new MacTableDelta(new Vni(Web), EpochA, 4, [], [new IpBindingChange(Vip, null)]), new LocalEffects());
        replica.Apply(new MacTableDelta(new Vni(Web), EpochA, 5, [], [new IpBindingChange(Vip, Vm2, 1)]), new LocalEffects());
        Assert.Equal(Vm2.Value, replica.Build(_counters)!.Segments[Web].ArpBindings[vip]);

        // A snapshot carries the flag too.
        replica.ApplySnapshot(Table(Web, EpochB, 1, [Entry(Vm2, "h2", "10.0.0.2")], [new IpBinding(Vip, Vm2, 7, Duplicate: true)]), replace: true, new LocalEffects());
        Assert.False(replica.Build(_counters)!.Segments[Web].ArpBindings.ContainsKey(vip));
    }

    [Fact]
    public void Each_segment_takes_its_port_groups_reserved_group_opt_in_and_knows_its_external_vteps()
    {
        var replica = Replica(("vm1", "web"), ("vm2", "db"));
        replica.Configure(new SwitchConfig("dvs", 1450, 1,
        [
            new PortGroup("web", new Vni(Web), VlanPolicy.Untagged, new SecurityPolicy(64, false, false), ReservedGroupForwardMask: 1 << 0xE),
            new PortGroup("db", new Vni(Db), VlanPolicy.Untagged, new SecurityPolicy(64, false, false)),
        ], []), []);
        replica.ApplySnapshot(Segment(Web, EpochA, 1, ("h2", "10.0.0.2"), ("external-10.0.0.3", "10.0.0.3")), replace: true);

        var tables = replica.Build(_counters)!;

        Assert.Equal(1 << 0xE, tables.Segments[Web].ReservedGroupForwardMask);
        Assert.Equal(0, tables.Segments[Db].ReservedGroupForwardMask);
        Assert.Equal([Ipv4Address.Parse("10.0.0.3")], tables.Segments[Web].ExternalVteps);
        Assert.Equal(["10.0.0.2", "10.0.0.3"], FloodList(replica, Web));
    }

    [Fact]
    public void Counters_of_a_vni_no_port_carries_any_more_start_again_from_zero()
    {
        var counters = new DataPlaneCounters(1);
        counters.ForVni(Web).CountReceived();
        counters.ForVni(Db).CountReceived();

        counters.ForgetVnisOtherThan(new HashSet<uint> { Db });

        Assert.Equal(0, counters.ForVni(Web).Received);
        Assert.Equal(1, counters.ForVni(Db).Received);
    }
}
