using Fabric.Grains;
using Fabric.HostAgent.Mirroring;
using static Fabric.HostAgent.Tests.Forwarding.ForwardingLab;

namespace Fabric.HostAgent.Tests.Forwarding;

/// <summary>Local port mirrors in the pipeline: what a port sends (in) and receives (out), as it crossed the port.</summary>
[Trait("Category", "Unit")]
public sealed class MirrorTests
{
    private static List<byte[]> Drain(CaptureRing ring)
    {
        var frames = new List<byte[]>();
        var buffer = new byte[CaptureRing.SnapLength];
        while (ring.TryRead(buffer, out int length, out int original, out _))
        {
            Assert.Equal(length, original);
            frames.Add(buffer.AsSpan(0, length).ToArray());
        }

        return frames;
    }

    [Fact]
    public void A_mirror_copies_what_its_port_sends_and_receives_by_direction_and_nothing_of_other_ports()
    {
        var lab = new ForwardingLab();
        var both = new CaptureRing();
        var inbound = new CaptureRing();
        var outbound = new CaptureRing();
        lab.DataPlane.Mirrors = MirrorSet.Of(PortCount, [(0, MirrorDirection.Both, both), (0, MirrorDirection.In, inbound), (0, MirrorDirection.Out, outbound)]);
        byte[] sent = Broadcast(Mac(0x10));
        byte[] received = Broadcast(Mac(0x11));
        byte[] elsewhere = Frame(RemoteA, Mac(0x12));

        lab.FromPort(0, sent);
        lab.FromPort(1, received);
        lab.FromPort(2, elsewhere);

        Assert.Equal([sent, received], Drain(both));
        Assert.Equal([sent], Drain(inbound));
        Assert.Equal([received], Drain(outbound));
    }

    [Fact]
    public void A_trunk_mirror_shows_frames_tagged_as_they_cross_the_port()
    {
        var lab = new ForwardingLab();
        var ring = new CaptureRing();
        lab.DataPlane.Mirrors = MirrorSet.Of(PortCount, [(TrunkPort, MirrorDirection.Out, ring)]);

        lab.FromPort(0, Broadcast(Mac(0x10)));

        var frame = Assert.Single(Drain(ring));
        Assert.Equal(Fabric.HostAgent.Wire.EtherType.Vlan, Wire.TestFrames.ReadUInt16(frame, 12));
    }

    [Fact]
    public void A_full_ring_counts_overruns_and_forwarding_goes_on()
    {
        var lab = new ForwardingLab();
        var ring = new CaptureRing();
        lab.DataPlane.Mirrors = MirrorSet.Of(PortCount, [(0, MirrorDirection.In, ring)]);

        for (int i = 0; i < CaptureRing.Capacity + 10; i++)
        {
            lab.FromPort(0, Frame(RemoteA, Mac(0x10)));
        }

        Assert.Equal(10, ring.Overruns);
        Assert.Equal(CaptureRing.Capacity + 10, lab.Output.Datagrams.Count);
        Assert.Equal(CaptureRing.Capacity, Drain(ring).Count);
    }
}

/// <summary>Remote mirror sessions: the copies a collector gets, decoded by tshark.</summary>
[Trait("Category", "Unit")]
public sealed class RemoteMirrorTests
{
    private static readonly System.Net.IPAddress Collector = System.Net.IPAddress.Parse("10.0.0.200");

    [Fact]
    public void Vxlan_and_erspan_copies_decode_in_tshark_with_the_sessions_vni_and_id_and_the_frame_inside()
    {
        var lab = new ForwardingLab();
        var vxlan = new RemoteMirror(new MirrorSession("v", "h1", "port0", MirrorDirection.In, Collector, MirrorEncapsulation.Vxlan, Vni: 9999), lab.VxlanPort);
        var erspan = new RemoteMirror(new MirrorSession("e", "h1", "port0", MirrorDirection.In, Collector, MirrorEncapsulation.Erspan, SessionId: 42), lab.VxlanPort);
        lab.DataPlane.Mirrors = MirrorSet.Of(PortCount, [(0, MirrorDirection.In, vxlan), (0, MirrorDirection.In, erspan)]);
        byte[] frame = Frame(RemoteA, Mac(0x10));

        lab.FromPort(0, frame);

        Assert.Equal((1, 1), (vxlan.Sent, erspan.Sent));
        uint collector = Fabric.HostAgent.Wire.Ipv4Address.FromIPAddress(Collector);
        var toCollector = lab.Output.RawPackets.Where(p => p.Destination == collector).Select(p => p.Packet).ToList();
        Assert.Equal(2, toCollector.Count);

        // As the kernel puts them on the wire: behind an Ethernet header.
        var frames = toCollector.Select(packet =>
        {
            var withEthernet = new byte[14 + packet.Length];
            Fabric.HostAgent.Wire.EthernetFrame.WriteHeader(withEthernet, Mac(0xFE), Mac(0xFD), Fabric.HostAgent.Wire.EtherType.Ipv4);
            packet.CopyTo(withEthernet.AsSpan(14));
            return withEthernet;
        }).ToList();
        string file = Path.Combine(Path.GetTempPath(), $"mirror-{Guid.NewGuid():N}.pcap");
        try
        {
            Interop.PcapFile.Write(file, frames);
            var rows = Interop.Tshark.Fields(file, "vxlan.vni", "erspan.spanid", "eth.src", "gre.sequence_number", "ip.proto");
            Assert.Contains(rows, r => r[0] == "9999" && r[2].Contains(Mac(0x10).ToString(), StringComparison.Ordinal));
            Assert.Contains(rows, r => r[1] == "42" && r[2].Contains(Mac(0x10).ToString(), StringComparison.Ordinal) && r[3] == "1");
            Assert.Empty(Interop.Tshark.Complaints(file));
        }
        finally
        {
            File.Delete(file);
        }
    }
}
