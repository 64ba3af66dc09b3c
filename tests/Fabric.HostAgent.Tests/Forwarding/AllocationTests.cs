using Fabric.Addressing;
using Fabric.HostAgent.Forwarding;
using Fabric.HostAgent.Ports;
using static Fabric.HostAgent.Tests.Forwarding.ForwardingLab;

namespace Fabric.HostAgent.Tests.Forwarding;

/// <summary>CONVENTIONS.md, "The hot path": no allocation per frame.</summary>
[Trait("Category", "Unit")]
public sealed class AllocationTests
{
    private const int Frames = 10_000;

    private static readonly MacAddress Vm0 = Mac(0x100);
    private static readonly MacAddress Vm1 = Mac(0x101);
    private static readonly MacAddress Guest = Mac(0x444);

    private enum Path
    {
        LocalDeliver,
        RemoteUnicastEncapsulation,
        Flood,
        TrunkIngressEncapsulation,
        DecapsulateAndDeliver,
        DecapsulateAndDeliverTagged,
        DecapsulateAndFlood,
        DropTaggedOnAccessPort,
        DropHairpin,
        DropNotAVtep,
        DropMalformedDatagram,
        ArpSuppressed,
    }

    /// <param name="mirror">
    /// <c>none</c>, the usual case, where the data plane reads null (issue 13: an idle mirror costs
    /// nothing per frame); <c>local</c>, a capture on ports 0 and 1 (both directions, nobody reading:
    /// the ring fills and overruns); <c>vxlan</c> and <c>erspan</c>, remote sessions on those ports.
    /// </param>
    [Theory]
    [InlineData("none")]
    [InlineData("local")]
    [InlineData("vxlan")]
    [InlineData("erspan")]
    public void After_a_warm_up_no_forwarding_path_allocates(string mirror)
    {
        var lab = new ForwardingLab();
        var ring = new Mirroring.CaptureRing();
        var collector = System.Net.IPAddress.Parse("10.0.0.200");
        Mirroring.MirrorSink? sink = mirror switch
        {
            "local" => ring,
            "vxlan" => new Mirroring.RemoteMirror(new Grains.MirrorSession("m", "h1", "port0", Grains.MirrorDirection.Both, collector, Grains.MirrorEncapsulation.Vxlan, Vni: 9999), lab.VxlanPort),
            "erspan" => new Mirroring.RemoteMirror(new Grains.MirrorSession("m", "h1", "port0", Grains.MirrorDirection.Both, collector, Grains.MirrorEncapsulation.Erspan, SessionId: 7), lab.VxlanPort),
            _ => null,
        };
        if (sink is not null)
        {
            lab.DataPlane.Mirrors = Mirroring.MirrorSet.Of(PortCount, [(0, Grains.MirrorDirection.Both, sink), (1, Grains.MirrorDirection.Both, sink)]);
        }

        lab.Output.Recording = false;
        lab.Seed(1, VniA, Vm1);
        lab.Seed(TrunkPort, VniB, Guest);
        lab.BindArp(VniA, Wire.TestFrames.RemoteVtepAddress, RemoteA);
        var slot = new byte[FrameBatch.Headroom + FrameBatch.DefaultMaxFrameLength];
        var scratch = new ForwardingScratch();
        var inputs = new Dictionary<Path, byte[]>
        {
            [Path.LocalDeliver] = Frame(Vm1, Vm0),
            [Path.RemoteUnicastEncapsulation] = Frame(RemoteA, Vm0),
            [Path.Flood] = Broadcast(Vm0),
            [Path.TrunkIngressEncapsulation] = Frame(RemoteB, Guest, vid: VidB),
            [Path.DecapsulateAndDeliver] = Datagram(VniA, Frame(Vm1, RemoteA)),
            [Path.DecapsulateAndDeliverTagged] = Datagram(VniB, Frame(Guest, RemoteB)),
            [Path.DecapsulateAndFlood] = Datagram(VniA, Broadcast(RemoteA)),
            [Path.DropTaggedOnAccessPort] = Frame(Vm1, Vm0, vid: VidA),
            [Path.DropHairpin] = Frame(Vm1, Mac(0x102)),
            [Path.DropNotAVtep] = Datagram(VniA, Frame(Vm1, RemoteA)),
            [Path.DropMalformedDatagram] = Datagram(VniA, Frame(Vm1, RemoteA)).AsSpan(0, 12).ToArray(),
            [Path.ArpSuppressed] = Wire.TestFrames.ArpRequest(Vm0, Wire.TestFrames.VtepAddress, Wire.TestFrames.RemoteVtepAddress),
        };

        void Run(Path path, byte[] input)
        {
            input.CopyTo(slot.AsSpan(FrameBatch.Headroom));
            switch (path)
            {
                case Path.LocalDeliver or Path.RemoteUnicastEncapsulation or Path.Flood or Path.DropTaggedOnAccessPort or Path.ArpSuppressed:
                    lab.DataPlane.FromPort(0, slot, input.Length, scratch);
                    break;
                case Path.TrunkIngressEncapsulation:
                    lab.DataPlane.FromPort(TrunkPort, slot, input.Length, scratch);
                    break;
                case Path.DropHairpin:
                    lab.DataPlane.FromPort(1, slot, input.Length, scratch);
                    break;
                case Path.DecapsulateAndDeliverTagged:
                    lab.DataPlane.FromVtep(PeerB, slot, input.Length, scratch);
                    break;
                case Path.DropNotAVtep:
                    lab.DataPlane.FromVtep(Stranger, slot, input.Length, scratch);
                    break;
                default:
                    lab.DataPlane.FromVtep(Peer2, slot, input.Length, scratch);
                    break;
            }
        }

        foreach (var (path, input) in inputs)
        {
            for (int i = 0; i < 1000; i++)
            {
                Run(path, input);
            }
        }

        long sendsBefore = lab.Output.PortSends + lab.Output.VtepSends;
        long mirroredBefore = (sink as Mirroring.RemoteMirror)?.Sent ?? 0;
        long dropsBefore = lab.Total.TotalDrops;
        var allocated = new Dictionary<Path, long>();
        foreach (var (path, input) in inputs)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < Frames; i++)
            {
                Run(path, input);
            }

            allocated[path] = GC.GetAllocatedBytesForCurrentThread() - before;
        }

        Assert.True(allocated.Values.All(bytes => bytes == 0), string.Join(", ", allocated.Select(kv => $"{kv.Key}: {kv.Value} bytes")));

        // The loops did the work they claim: 1+1+6+1+1+1+5+1 sends and 4 drops per round of paths,
        // and a remote session's copies on top.
        long mirrored = ((sink as Mirroring.RemoteMirror)?.Sent ?? 0) - mirroredBefore;
        Assert.Equal(17L * Frames, lab.Output.PortSends + lab.Output.VtepSends - sendsBefore - mirrored);
        Assert.Equal(mirror is "vxlan" or "erspan", mirrored > 0);
        Assert.Equal(4L * Frames, lab.Total.TotalDrops - dropsBefore);
        Assert.Equal(1000L + Frames, lab.Total.ArpSuppressed);
        Assert.Equal(mirror == "local", ring.TryRead(new byte[Mirroring.CaptureRing.SnapLength], out _, out _, out _));
        Assert.Equal(mirror == "local", ring.Overruns > 0);
    }
    [Fact]
    public void Port_security_reserved_group_and_own_vtep_paths_allocate_nothing()
    {
        var lab = new ForwardingLab(allowForgedTransmits: false, promiscuous: [2]);
        lab.Output.Recording = false;
        lab.Seed(1, VniA, Vm1);
        lab.FromPort(0, Frame(Vm1, Vm0)); // Vm0 becomes port 0's effective MAC
        var slot = new byte[FrameBatch.Headroom + FrameBatch.DefaultMaxFrameLength];
        var scratch = new ForwardingScratch();
        byte[] forged = Frame(Vm1, Mac(0xBAD));
        byte[] reserved = Frame(MacAddress.Parse("01:80:c2:00:00:0e"), Vm0);
        byte[] unicastWithCopy = Frame(Vm1, Vm0);
        byte[] fromSelf = Datagram(VniA, Frame(Vm1, RemoteA));

        void RunAll()
        {
            forged.CopyTo(slot.AsSpan(FrameBatch.Headroom));
            lab.DataPlane.FromPort(0, slot, forged.Length, scratch);
            reserved.CopyTo(slot.AsSpan(FrameBatch.Headroom));
            lab.DataPlane.FromPort(0, slot, reserved.Length, scratch);
            unicastWithCopy.CopyTo(slot.AsSpan(FrameBatch.Headroom));
            lab.DataPlane.FromPort(0, slot, unicastWithCopy.Length, scratch);
            fromSelf.CopyTo(slot.AsSpan(FrameBatch.Headroom));
            lab.DataPlane.FromVtep(Self, slot, fromSelf.Length, scratch);
        }

        for (int i = 0; i < 1000; i++)
        {
            RunAll();
        }

        long sends = lab.Output.PortSends;
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < Frames; i++)
        {
            RunAll();
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(2L * Frames, lab.Output.PortSends - sends); // the unicast and its promiscuous copy
        Assert.Equal(1000L + Frames, lab.Total.DropsOf(DataPlaneDrop.ForgedTransmit));
        Assert.Equal(1000L + Frames, lab.Total.DropsOf(DataPlaneDrop.ReservedGroupAddress));
        Assert.Equal(1000L + Frames, lab.Total.DropsOf(DataPlaneDrop.FromOwnVtep));
    }
}
