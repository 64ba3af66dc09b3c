using System.Collections.Frozen;
using Fabric.Addressing;
using Fabric.HostAgent.Forwarding;
using static Fabric.HostAgent.Tests.Forwarding.ForwardingLab;

namespace Fabric.HostAgent.Tests.Forwarding;

/// <summary>
/// RFC 7348 §4.1: the inner source MAC of a datagram from an external VTEP (no agent publishes its
/// MACs) is learned against that VTEP and queued for the MAC tables; agent hosts publish their own.
/// </summary>
[Trait("Category", "Unit")]
public sealed class ExternalLearningTests
{
    private static readonly MacAddress Vm1 = Mac(0x101);
    private static readonly MacAddress BehindKernel = Mac(0xCE01);

    /// <summary>The lab with <see cref="Peer3"/> registered as an external VTEP of VNI A.</summary>
    private static ForwardingLab LabWithExternalPeer3()
    {
        var lab = new ForwardingLab();
        var tables = lab.Snapshot;
        lab.DataPlane.Publish(new ForwardingSnapshot
        {
            Ports = tables.Ports,
            Generation = tables.Generation,
            Segments = tables.Segments.ToDictionary(kv => kv.Key, kv => kv.Key != VniA ? kv.Value : new SegmentForwarding
            {
                Vni = VniA,
                LocalPorts = kv.Value.LocalPorts,
                FloodList = kv.Value.FloodList,
                Vteps = kv.Value.Vteps,
                RemoteMacs = kv.Value.RemoteMacs,
                ExternalVteps = new[] { Peer3 }.ToFrozenSet(),
                Counters = kv.Value.Counters,
            }).ToFrozenDictionary(),
        });
        return lab;
    }

    private static List<MacKey> Drain(ExternalMacTable table)
    {
        var keys = new List<MacKey>();
        while (table.TryTakeLearned(out var key))
        {
            keys.Add(key);
        }

        return keys;
    }

    [Fact]
    public void The_source_of_a_datagram_from_an_external_vtep_is_learned_against_it_once()
    {
        var lab = LabWithExternalPeer3();
        lab.Seed(1, VniA, Vm1);

        for (int i = 0; i < 5; i++)
        {
            lab.FromVtep(Peer3, Datagram(VniA, Frame(Vm1, BehindKernel)));
        }

        Assert.True(lab.DataPlane.External.TryGet(VniA, BehindKernel.Value, out var entry));
        Assert.Equal(Peer3, entry.Vtep);
        Assert.Equal([new MacKey(VniA, BehindKernel.Value)], Drain(lab.DataPlane.External));
        Assert.Equal(5, lab.Output.Frames.Count);
    }

    [Fact]
    public void Datagrams_from_agent_vteps_teach_nothing_their_agents_publish_their_macs()
    {
        var lab = LabWithExternalPeer3();

        lab.FromVtep(Peer2, Datagram(VniA, Broadcast(Mac(0xA1))));

        Assert.Equal(0, lab.DataPlane.External.Count);
    }

    [Fact]
    public void A_mac_seen_behind_another_external_vtep_is_queued_again_and_a_local_one_is_never_learned()
    {
        var lab = LabWithExternalPeer3();
        lab.Seed(1, VniA, Vm1);
        lab.DataPlane.External.Learn(VniA, BehindKernel.Value, Peer2, Environment.TickCount64);
        Drain(lab.DataPlane.External);

        lab.FromVtep(Peer3, Datagram(VniA, Broadcast(BehindKernel)));
        lab.FromVtep(Peer3, Datagram(VniA, Broadcast(Vm1))); // our own VM's MAC, looped back

        Assert.True(lab.DataPlane.External.TryGet(VniA, BehindKernel.Value, out var entry));
        Assert.Equal(Peer3, entry.Vtep);
        Assert.Equal([new MacKey(VniA, BehindKernel.Value)], Drain(lab.DataPlane.External));
        Assert.False(lab.DataPlane.External.TryGet(VniA, Vm1.Value, out _));
    }

    [Fact]
    public void The_table_is_bounded_and_counts_what_it_did_not_learn()
    {
        var table = new ExternalMacTable();
        for (int i = 1; i <= ExternalMacTable.Capacity + 10; i++)
        {
            table.Learn(VniA, Mac(i).Value, Peer3, 0);
        }

        Assert.Equal(ExternalMacTable.Capacity, table.Count);
        Assert.Equal(10, table.NotLearned);
    }

    [Fact]
    public void Macs_still_in_use_are_queued_again_and_unused_ones_age_out()
    {
        var table = new ExternalMacTable();
        table.Learn(VniA, Mac(1).Value, Peer3, 1_000);
        table.Learn(VniA, Mac(2).Value, Peer3, 5_000);
        Drain(table);

        Assert.Equal(1, table.RequeueSeenSince(2_000));
        Assert.Equal([new MacKey(VniA, Mac(2).Value)], Drain(table));
        Assert.Equal(1, table.Age(2_000));
        Assert.False(table.TryGet(VniA, Mac(1).Value, out _));
        Assert.True(table.TryGet(VniA, Mac(2).Value, out _));
    }

    [Fact]
    public void Learning_again_behind_an_external_vtep_allocates_nothing()
    {
        var lab = LabWithExternalPeer3();
        lab.Output.Recording = false;
        lab.Seed(1, VniA, Vm1);
        byte[] datagram = Datagram(VniA, Frame(Vm1, BehindKernel));
        var slot = new byte[Fabric.HostAgent.Ports.FrameBatch.Headroom + Fabric.HostAgent.Ports.FrameBatch.DefaultMaxFrameLength];
        var scratch = new ForwardingScratch();
        void Run()
        {
            datagram.CopyTo(slot.AsSpan(Fabric.HostAgent.Ports.FrameBatch.Headroom));
            lab.DataPlane.FromVtep(Peer3, slot, datagram.Length, scratch);
        }

        for (int i = 0; i < 1000; i++)
        {
            Run();
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 10_000; i++)
        {
            Run();
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(11_000, lab.Output.PortSends);
    }
}
