using System.Buffers.Binary;
using Fabric.Addressing;
using Fabric.HostAgent.Forwarding;
using static Fabric.HostAgent.Tests.Forwarding.ForwardingLab;

namespace Fabric.HostAgent.Tests.Forwarding;

/// <summary>
/// IEEE 802.1Q §8.6.3, Table 8-1: frames to the reserved group addresses 01-80-C2-00-00-00..0F are
/// never forwarded by a bridge, neither to local ports nor to VTEPs, unless the port group opts in.
/// </summary>
[Trait("Category", "Unit")]
public sealed class ReservedGroupTests
{
    private static readonly MacAddress Vm0 = Mac(0x100);

    /// <summary>STP BPDU, PAUSE, LACP, EAPOL, LLDP and the rest of the block.</summary>
    public static TheoryData<string, ushort> Reserved => new()
    {
        { "01:80:c2:00:00:00", 0x0026 }, // STP BPDU (an 802.3 length, LLC)
        { "01:80:c2:00:00:01", 0x8808 }, // PAUSE
        { "01:80:c2:00:00:02", 0x8809 }, // LACP
        { "01:80:c2:00:00:03", 0x888E }, // EAPOL
        { "01:80:c2:00:00:0e", 0x88CC }, // LLDP
        { "01:80:c2:00:00:0f", 0x0800 },
    };

    private static byte[] To(string destination, ushort etherType)
    {
        byte[] frame = Frame(MacAddress.Parse(destination), Vm0);
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(12), etherType);
        return frame;
    }

    [Theory]
    [MemberData(nameof(Reserved))]
    public void A_frame_to_a_reserved_group_address_from_a_port_goes_nowhere_and_is_counted(string destination, ushort etherType)
    {
        var lab = new ForwardingLab();

        lab.FromPort(0, To(destination, etherType));
        lab.FromPort(TrunkPort, Frame(MacAddress.Parse(destination), Vm0, vid: VidA));

        Assert.Empty(lab.Output.Frames);
        Assert.Empty(lab.Output.Datagrams);
        Assert.Equal(new Dictionary<DataPlaneDrop, long> { [DataPlaneDrop.ReservedGroupAddress] = 2 }, lab.TotalDrops());
        Assert.Equal(2, lab.SegmentCounters(VniA).DropsOf(DataPlaneDrop.ReservedGroupAddress));
    }

    [Theory]
    [MemberData(nameof(Reserved))]
    public void A_frame_to_a_reserved_group_address_from_a_vtep_is_not_delivered(string destination, ushort etherType)
    {
        var lab = new ForwardingLab();

        lab.FromVtep(Peer2, Datagram(VniA, To(destination, etherType)));

        Assert.Empty(lab.Output.Frames);
        Assert.Equal(1, lab.Counters.Vtep.DropsOf(DataPlaneDrop.ReservedGroupAddress));
    }

    [Theory]
    [InlineData("01:80:c2:00:00:10")] // all bridges (not in the filtered block)
    [InlineData("01:80:c2:00:00:20")] // GARP range, forwarded
    [InlineData("01:00:5e:00:00:01")] // IPv4 multicast
    [InlineData("33:33:00:00:00:01")] // IPv6 multicast
    public void Other_group_addresses_are_flooded_as_before(string destination)
    {
        var lab = new ForwardingLab();

        lab.FromPort(0, Frame(MacAddress.Parse(destination), Vm0));

        Assert.Empty(lab.TotalDrops());
        Assert.Equal(1, lab.Total.Flooded);
        Assert.Equal(2, lab.Output.Datagrams.Count);
    }

    [Fact]
    public void A_port_group_that_opts_in_for_lldp_forwards_lldp_and_still_filters_the_rest()
    {
        var lab = new ForwardingLab(reservedGroupForwardMask: 1 << 0xE);

        lab.FromPort(0, To("01:80:c2:00:00:0e", 0x88CC));
        lab.FromPort(0, To("01:80:c2:00:00:02", 0x8809));

        Assert.Equal(1, lab.Total.Flooded);
        Assert.Equal(2, lab.Output.Datagrams.Count);
        Assert.All(lab.Output.Datagrams, d => Assert.Equal("01:80:c2:00:00:0e", MacAddress.Read(d.Inner).ToString()));
        Assert.Equal(new Dictionary<DataPlaneDrop, long> { [DataPlaneDrop.ReservedGroupAddress] = 1 }, lab.TotalDrops());
    }
}
