using System.Reflection;
using Fabric.Addressing;
using Fabric.HostAgent.Forwarding;
using Fabric.HostAgent.Management;
using Fabric.HostAgent.Wire;
using static Fabric.HostAgent.Tests.Forwarding.ForwardingLab;

namespace Fabric.HostAgent.Tests.Forwarding;

/// <summary>
/// <c>fabricctl trace</c>'s dry run (<see cref="DataPlane.Trace"/>): the real pipeline on a sandbox.
/// Each test traces a frame, checks that the trace changed nothing, then sends the same frame for
/// real and holds the trace's output set against what the pipeline really sent.
/// </summary>
[Trait("Category", "Unit")]
public sealed class TraceTests
{
    private static readonly MacAddress Local0 = Mac(0x10), Local1 = Mac(0x11);

    /// <summary>Traces, asserts nothing changed, forwards for real, asserts the outputs match; returns the trace.</summary>
    private static FrameTrace TraceThenForward(ForwardingLab lab, int port, byte[] frame)
    {
        long received = lab.Total.Received, drops = lab.Total.TotalDrops;
        int macs = lab.Macs.Count;
        var trace = lab.DataPlane.Trace(port, frame);
        Assert.Equal(received, lab.Total.Received);
        Assert.Equal(drops, lab.Total.TotalDrops);
        Assert.Equal(macs, lab.Macs.Count);
        Assert.False(lab.Macs.TryTakeLearned(out _), "a trace queued a MAC for publishing");
        Assert.Empty(lab.Output.Frames);
        Assert.Empty(lab.Output.Datagrams);

        lab.FromPort(port, frame);
        var real = lab.Output.Frames.Select(f => $"port {lab.Snapshot.Ports[f.Port].Name} {Convert.ToHexStringLower(f.Frame)}")
            .Concat(lab.Output.Datagrams.Select(d => $"vtep {Ipv4Address.Format(d.OuterDestination)} vni {d.Vni} {Convert.ToHexStringLower(d.Inner)}"))
            .Order().ToList();
        var traced = trace.Outputs.Select(o => o.Kind == "port" ? $"port {o.Port} {o.FrameHex}" : $"vtep {o.Vtep} vni {o.Vni} {o.FrameHex}").Order().ToList();
        Assert.Equal(real, traced);
        if (trace.Drop is { } reason && Enum.TryParse<DataPlaneDrop>(reason, out var counted))
        {
            Assert.Equal(1, lab.Total.DropsOf(counted));
        }

        return trace;
    }

    [Fact]
    public void A_broadcast_is_traced_as_a_flood_to_every_other_port_and_vtep_of_its_vni_exactly_as_it_is_forwarded()
    {
        var lab = new ForwardingLab();
        var trace = TraceThenForward(lab, 0, Broadcast(Local0));

        Assert.Equal("forwarded", trace.Result);
        Assert.Equal(VniA, trace.Vni);
        Assert.Contains(trace.Steps, s => s.Stage == "learning" && s.Verdict == "learned");
        Assert.Contains(trace.Steps, s => s.Stage == "lookup" && s.Verdict == "flood");
        Assert.Equal(["10.0.0.2", "10.0.0.3"], trace.Outputs.Where(o => o.Kind == "vtep").Select(o => o.Vtep!).Order());
        Assert.All(trace.Outputs, o => Assert.True(o.Flood));
        Assert.Contains(trace.Outputs, o => o.Port == "trunk" && o.Vlan == VidA);
    }

    [Fact]
    public void Unicast_to_a_remote_mac_is_traced_to_its_vtep_alone()
    {
        var lab = new ForwardingLab();
        var trace = TraceThenForward(lab, 0, Frame(RemoteA, Local0));

        var output = Assert.Single(trace.Outputs);
        Assert.Equal(("vtep", "10.0.0.2", (uint?)VniA, false), (output.Kind, output.Vtep, output.Vni, output.Flood));
        Assert.Contains(trace.Steps, s => s.Stage == "lookup" && s.Verdict == "remote");
    }

    [Fact]
    public void Unicast_to_a_local_mac_is_traced_to_its_port_and_a_mac_seen_elsewhere_as_a_move()
    {
        var lab = new ForwardingLab();
        lab.Seed(1, VniA, Local1);
        lab.Seed(2, VniA, Local0);
        var trace = TraceThenForward(lab, 0, Frame(Local1, Local0));

        Assert.Equal("port1", Assert.Single(trace.Outputs).Port);
        Assert.Contains(trace.Steps, s => s.Stage == "learning" && s.Verdict == "moved" && s.Detail.Contains("port2", StringComparison.Ordinal));
    }

    [Fact]
    public void A_tagged_frame_on_an_access_port_is_traced_as_dropped_at_the_vlan_stage_with_its_counted_reason()
    {
        var lab = new ForwardingLab();
        var trace = TraceThenForward(lab, 0, Frame(RemoteA, Local0, vid: 10));

        Assert.Equal(("dropped", "TaggedOnAccessPort"), (trace.Result, trace.Drop));
        Assert.Equal("vlan", trace.Steps[^1].Stage);
        Assert.Empty(trace.Outputs);
    }

    [Fact]
    public void A_trunk_vid_selects_its_vni_in_the_trace()
    {
        var lab = new ForwardingLab();
        var trace = TraceThenForward(lab, TrunkPort, Broadcast(Local0, vid: VidB));

        Assert.Equal(VniB, trace.Vni);
        Assert.Contains(trace.Steps, s => s.Stage == "vlan" && s.Detail.Contains("VID 20", StringComparison.Ordinal));
        Assert.Contains(trace.Outputs, o => o.Kind == "vtep" && o.Vtep == "10.0.0.4" && o.Vni == VniB);
    }

    [Fact]
    public void A_forged_source_is_traced_as_dropped_by_port_security()
    {
        var lab = new ForwardingLab(allowForgedTransmits: false);
        lab.ConfiguredMacs[0] = Local0;
        lab.Republish();
        var trace = TraceThenForward(lab, 0, Broadcast(Local1));

        Assert.Equal(("dropped", "ForgedTransmit"), (trace.Result, trace.Drop));
        Assert.Equal("portSecurity", trace.Steps[^1].Stage);
        Assert.Contains(Local0.ToString(), trace.Steps[^1].Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void An_arp_request_for_a_bound_address_is_traced_as_answered_by_suppression()
    {
        var lab = new ForwardingLab();
        uint target = Ipv4Address.Parse("192.168.10.2");
        lab.BindArp(VniA, target, RemoteA);
        var trace = TraceThenForward(lab, 0, Wire.TestFrames.ArpRequest(Local0, Ipv4Address.Parse("192.168.10.1"), target));

        Assert.Equal("answered", trace.Result);
        var reply = Assert.Single(trace.Outputs);
        Assert.Equal("port0", reply.Port);
        Assert.Contains(RemoteA.ToString(), trace.Steps.Single(s => s.Stage == "arp").Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void A_sandbox_segment_copies_every_property_but_its_counters_and_gateway()
    {
        var lab = new ForwardingLab();
        var original = lab.Snapshot.Segments[VniA];
        var copy = original.ForTrace(router: null);
        foreach (var property in typeof(SegmentForwarding).GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            if (property.Name is nameof(SegmentForwarding.Counters) or nameof(SegmentForwarding.Router))
            {
                Assert.NotSame(original.Counters, copy.Counters);
                continue;
            }

            Assert.Equal(property.GetValue(original), property.GetValue(copy));
        }
    }

    [Fact]
    public void A_described_frame_is_built_with_valid_headers_and_checksums()
    {
        var frame = TraceFrameBuilder.Build(new TraceRequest("vm1", null, new TraceFrame("02:00:00:00:00:01", "02:00:00:00:00:02", 100, null, null,
            new TraceIpv4("10.0.0.1", "10.0.0.2", "udp", 5, 1000, 53, 60, false))));

        Assert.True(EthernetFrame.TryParse(frame, out var ethernet, out _));
        Assert.Equal((ushort)100, ethernet.Tag.Vid);
        Assert.True(Ipv4Packet.TryParse(ethernet.Payload, out var ipv4, out var reason), reason.ToString());
        Assert.Equal((5, 60, false), (ipv4.TimeToLive, ipv4.TotalLength, ipv4.DontFragment));
        Assert.True(UdpDatagram.TryParse(ipv4.Payload, out var udp, out _));
        Assert.Equal((1000, 53), (udp.SourcePort, udp.DestinationPort));
    }

    [Theory]
    [InlineData("""{"srcMac":"zz","dstMac":"02:00:00:00:00:02","etherType":"ipv4"}""", "frame.srcMac")]
    [InlineData("""{"srcMac":"02:00:00:00:00:01","dstMac":"02:00:00:00:00:02","vlan":4095,"etherType":"0x88cc"}""", "frame.vlan")]
    [InlineData("""{"srcMac":"02:00:00:00:00:01","dstMac":"02:00:00:00:00:02","ipv4":{"src":"10.0.0.1","dst":"nope"}}""", "frame.ipv4.dst")]
    [InlineData("""{"srcMac":"02:00:00:00:00:01","dstMac":"02:00:00:00:00:02","etherType":"0x0100"}""", "frame.etherType")]
    [InlineData("""{"srcMac":"02:00:00:00:00:01","dstMac":"02:00:00:00:00:02","arp":{"op":"ask","senderIp":"10.0.0.1","targetIp":"10.0.0.2"}}""", "frame.arp.op")]
    public void A_bad_field_of_a_described_frame_is_refused_naming_it(string frameJson, string field)
    {
        var frame = System.Text.Json.JsonSerializer.Deserialize<TraceFrame>(frameJson, AgentEndpoint.Json)!;
        var error = Assert.Throws<TraceRequestException>(() => TraceFrameBuilder.Build(new TraceRequest("vm1", null, frame)));
        Assert.Equal(field, error.Field);
    }
}
