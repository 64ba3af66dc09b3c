using System.Net;
using Fabric.Grains.Tests.Infrastructure;

namespace Fabric.Grains.Tests;

/// <summary>
/// A segment lives as long as its port group holds the VNI: deleting the port group (or moving it to
/// another VNI) ends the segment, and a VNI used again starts an empty segment in a new epoch, so a
/// new tenant never inherits the last one's external VTEPs, MACs or bindings.
/// </summary>
[Collection(ClusterCollection.Name)]
[Trait("Category", "Cluster")]
public sealed class SegmentLifetimeTests(ClusterFixture fixture) : ClusterTest(fixture)
{
    private static readonly IPAddress OldTenantsVtep = IPAddress.Parse("10.77.0.9");

    private async Task LeaveStateBehindAsync(Addressing.Vni vni)
    {
        await Segment(vni).JoinAsync(ExternalVteps.HostId(OldTenantsVtep), OldTenantsVtep);
        await MacTable(vni).SetStaticAsync(Names.NextMac(), ExternalVteps.HostId(OldTenantsVtep), OldTenantsVtep, ExternalVteps.Port);
        await MacTable(vni).LearnAsync([Learn(Names.NextMac(), "host-x", 3) with { Ip = IPAddress.Parse("192.168.66.1") }]);
    }

    [Fact]
    public async Task A_vni_reused_after_its_port_group_was_deleted_starts_an_empty_segment_in_a_new_epoch()
    {
        var (sw, portGroup, vni) = await NewPortGroupAsync();
        await LeaveStateBehindAsync(vni);
        var segmentBefore = await Segment(vni).GetAsync();
        var tableBefore = await MacTable(vni).GetSnapshotAsync();

        await Switch(sw).RemovePortGroupAsync(portGroup);
        string other = await NewSwitchAsync();
        await Switch(other).SetPortGroupAsync("fresh", new PortGroupSpec(vni));

        var segment = await Segment(vni).GetAsync();
        var table = await MacTable(vni).GetSnapshotAsync();
        Assert.Empty(segment.FloodList);
        Assert.Empty(table.Entries);
        Assert.Empty(table.IpBindings);
        Assert.NotEqual(segmentBefore.Epoch, segment.Epoch);
        Assert.NotEqual(tableBefore.Epoch, table.Epoch);
    }

    [Fact]
    public async Task A_port_group_moved_to_another_vni_leaves_nothing_in_the_old_one_and_starts_empty_in_the_new_one()
    {
        var (sw, portGroup, vni) = await NewPortGroupAsync();
        var next = Names.NextVni();
        await LeaveStateBehindAsync(vni);
        await LeaveStateBehindAsync(next); // stale state of a VNI nobody held, from an earlier failure say

        await Switch(sw).SetPortGroupAsync(portGroup, new PortGroupSpec(next));

        foreach (var v in new[] { vni, next })
        {
            Assert.Empty((await Segment(v).GetAsync()).FloodList);
            Assert.Empty((await MacTable(v).GetSnapshotAsync()).Entries);
        }
    }

    [Fact]
    public async Task Changing_a_port_groups_policy_on_the_same_vni_keeps_its_segment()
    {
        var (sw, portGroup, vni) = await NewPortGroupAsync();
        await LeaveStateBehindAsync(vni);
        var before = await Segment(vni).GetAsync();

        await Switch(sw).SetPortGroupAsync(portGroup, new PortGroupSpec(vni, Security: new SecurityPolicy(8, false, false)));

        var after = await Segment(vni).GetAsync();
        Assert.Equal((before.Epoch, before.Version), (after.Epoch, after.Version));
        Assert.Equal(before.FloodList, after.FloodList);
        Assert.Equal(2, (await MacTable(vni).GetSnapshotAsync()).Entries.Count);
    }
}
