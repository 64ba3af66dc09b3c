using System.Buffers.Binary;
using Fabric.Addressing;
using Fabric.HostAgent.Tests.Ports;
using Fabric.HostAgent.Wire;
using static Fabric.HostAgent.Tests.Wire.TestFrames;

namespace Fabric.HostAgent.Tests.Wire;

[Trait("Category", "Unit")]
public sealed class DhcpMessageTests
{
    private static readonly MacAddress Client = HostA;
    private static readonly MacAddress Gateway = RouterMac;
    private static readonly uint Server = Ipv4Address.Parse("10.1.0.1");
    private static readonly uint Offered = Ipv4Address.Parse("10.1.0.23");
    private static readonly uint Mask = Ipv4Address.Parse("255.255.255.0");
    private static readonly uint[] Dns = [Ipv4Address.Parse("10.1.0.1"), Ipv4Address.Parse("1.1.1.1")];
    private const uint Xid = 0x3903F326;

    [Fact]
    public void A_discover_is_read_with_its_fixed_fields_and_options()
    {
        byte[] payload = new DhcpRequestBuilder
        {
            MessageType = DhcpMessageType.Discover,
            TransactionId = Xid,
            Seconds = 3,
            Flags = DhcpMessage.BroadcastFlag,
            ClientHardwareAddress = Client,
            TrailingPad = 40,
        }
        .With(DhcpOptionCode.ClientIdentifier, 1, 0x02, 0, 0, 0, 0, 0x0a)
        .With(DhcpOptionCode.HostName, "vm-a"u8.ToArray())
        .With(55, 1, 3, 6, 26) // parameter request list: not read, skipped
        .Build();

        Assert.True(DhcpMessage.TryRead(payload, out var message, out var reason));
        Assert.Equal(DropReason.None, reason);
        Assert.Equal(DhcpMessage.BootRequest, message.Op);
        Assert.Equal(1, message.HardwareType);
        Assert.Equal(6, message.HardwareLength);
        Assert.Equal(0, message.Hops);
        Assert.Equal(Xid, message.TransactionId);
        Assert.Equal(3, message.Seconds);
        Assert.Equal(0x8000, message.Flags);
        Assert.True(message.Broadcast);
        Assert.Equal(0u, message.ClientAddress);
        Assert.Equal(0u, message.YourAddress);
        Assert.Equal(0u, message.ServerAddress);
        Assert.Equal(0u, message.RelayAddress);
        Assert.Equal(Client, message.ClientHardwareAddress);
        Assert.Equal(DhcpMessageType.Discover, message.MessageType);
        Assert.Equal(0u, message.RequestedAddress);
        Assert.Equal(0u, message.ServerIdentifier);
        Assert.Equal(0u, message.LeaseTime);
        Assert.Equal(Hex("01 02000000000a"), message.ClientIdentifier.ToArray());
        Assert.Equal("vm-a"u8.ToArray(), message.HostName.ToArray());
        Assert.Equal(payload.Length, message.Payload.Length);
    }

    [Fact]
    public void A_request_carries_the_requested_address_and_the_selected_server()
    {
        byte[] payload = DhcpRequestBuilder.Request(Client, Xid, Offered, Server)
            .With(DhcpOptionCode.LeaseTime, 0, 0, 0x0e, 0x10)
            .Build();

        Assert.True(DhcpMessage.TryRead(payload, out var message, out var reason));
        Assert.Equal(DropReason.None, reason);
        Assert.Equal(DhcpMessageType.Request, message.MessageType);
        Assert.Equal(Xid, message.TransactionId);
        Assert.False(message.Broadcast);
        Assert.Equal(0u, message.ClientAddress);
        Assert.Equal(Offered, message.RequestedAddress);
        Assert.Equal(Server, message.ServerIdentifier);
        Assert.Equal(3600u, message.LeaseTime);
        Assert.True(message.ClientIdentifier.IsEmpty);
        Assert.True(message.HostName.IsEmpty);
    }

    [Fact]
    public void A_release_carries_ciaddr_and_the_server_identifier()
    {
        byte[] payload = DhcpRequestBuilder.Release(Client, Xid, Offered, Server).Build();

        Assert.True(DhcpMessage.TryRead(payload, out var message, out var reason));
        Assert.Equal(DropReason.None, reason);
        Assert.Equal(DhcpMessageType.Release, message.MessageType);
        Assert.Equal(Offered, message.ClientAddress);
        Assert.Equal(Server, message.ServerIdentifier);
        Assert.Equal(0u, message.RequestedAddress);
        Assert.Equal(Client, message.ClientHardwareAddress);
    }

    [Fact]
    public void Pad_is_skipped_options_after_end_are_not_read_and_a_missing_end_is_accepted()
    {
        byte[] padded = new DhcpRequestBuilder { MessageType = DhcpMessageType.Discover, ClientHardwareAddress = Client }
            .With(DhcpOptionCode.Pad)
            .With(DhcpOptionCode.Pad)
            .WithAddress(DhcpOptionCode.RequestedAddress, Offered)
            .With(DhcpOptionCode.End)
            .WithAddress(DhcpOptionCode.ServerIdentifier, Server) // after End: ignored
            .With(0x33, 0xff) // after End: a lease time of the wrong length, also ignored
            .Build();
        Assert.True(DhcpMessage.TryRead(padded, out var message, out _));
        Assert.Equal(Offered, message.RequestedAddress);
        Assert.Equal(0u, message.ServerIdentifier);

        byte[] endless = new DhcpRequestBuilder { MessageType = DhcpMessageType.Inform, WriteEnd = false }.Build();
        Assert.True(DhcpMessage.TryRead(endless, out message, out _));
        Assert.Equal(DhcpMessageType.Inform, message.MessageType);
    }

    [Fact]
    public void Every_payload_shorter_than_header_and_cookie_is_truncated()
    {
        byte[] payload = DhcpRequestBuilder.Discover(Client, Xid).Build();
        for (int length = 0; length < DhcpMessage.OptionsOffset; length++)
        {
            Assert.False(DhcpMessage.TryRead(payload.AsSpan(0, length), out _, out var reason));
            Assert.Equal(DropReason.Truncated, reason);
        }
    }

    [Theory]
    [InlineData(236, 0x00)] // cookie 0.130.83.99
    [InlineData(239, 0x64)] // cookie 99.130.83.100
    [InlineData(0, 0x00)]   // op 0
    [InlineData(0, 0x03)]   // op 3
    public void A_payload_with_a_bad_cookie_or_op_is_not_dhcp(int offset, byte value)
    {
        byte[] payload = DhcpRequestBuilder.Discover(Client, Xid).Build();
        payload[offset] = value;
        Assert.False(DhcpMessage.TryRead(payload, out _, out var reason));
        Assert.Equal(DropReason.NotDhcp, reason);
    }

    [Fact]
    public void A_bootp_message_without_option_53_is_not_dhcp()
    {
        byte[] payload = new DhcpRequestBuilder { ClientHardwareAddress = Client }
            .WithAddress(DhcpOptionCode.RequestedAddress, Offered)
            .Build();
        Assert.False(DhcpMessage.TryRead(payload, out _, out var reason));
        Assert.Equal(DropReason.NotDhcp, reason);
    }

    [Fact]
    public void An_option_running_past_the_end_of_the_payload_is_truncated()
    {
        byte[] valid = DhcpRequestBuilder.Request(Client, Xid, Offered, Server).With(DhcpOptionCode.HostName, "vm-a"u8.ToArray()).Build();

        // Cut anywhere inside the options after 53 and before End: the length byte or the value is missing.
        for (int length = DhcpMessage.OptionsOffset + 4; length < valid.Length - 1; length++)
        {
            bool ok = DhcpMessage.TryRead(valid.AsSpan(0, length), out _, out var reason);
            bool onBoundary = length is DhcpMessage.OptionsOffset + 3 + 6 or DhcpMessage.OptionsOffset + 3 + 12;
            Assert.Equal(onBoundary, ok);
            Assert.Equal(onBoundary ? DropReason.None : DropReason.Truncated, reason);
        }

        byte[] overlong = DhcpRequestBuilder.Discover(Client, Xid).With(DhcpOptionCode.HostName, "vm-a"u8.ToArray()).Build();
        overlong[DhcpMessage.OptionsOffset + 4] = 200; // host name says 200 bytes; End follows after 4
        Assert.False(DhcpMessage.TryRead(overlong, out _, out var overlongReason));
        Assert.Equal(DropReason.Truncated, overlongReason);
    }

    [Theory]
    [InlineData(6, 6)]  // IEEE 802
    [InlineData(32, 6)] // InfiniBand
    [InlineData(1, 8)]  // Ethernet type with an 8-byte address
    [InlineData(1, 0)]
    public void Hardware_other_than_ethernet_is_unsupported(byte hardwareType, byte hardwareLength)
    {
        byte[] payload = new DhcpRequestBuilder { MessageType = DhcpMessageType.Discover, HardwareType = hardwareType, HardwareLength = hardwareLength }.Build();
        Assert.False(DhcpMessage.TryRead(payload, out _, out var reason));
        Assert.Equal(DropReason.UnsupportedDhcp, reason);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(9)]  // DHCPFORCERENEW (RFC 3203), not something a server is sent
    [InlineData(10)] // DHCPLEASEQUERY (RFC 4388)
    [InlineData(255)]
    public void A_message_type_outside_1_to_8_is_unsupported(byte type)
    {
        byte[] payload = DhcpRequestBuilder.Discover(Client, Xid).Build();
        payload[DhcpMessage.OptionsOffset + 2] = type;
        Assert.False(DhcpMessage.TryRead(payload, out _, out var reason));
        Assert.Equal(DropReason.UnsupportedDhcp, reason);
    }

    [Fact]
    public void Option_overload_is_refused_rather_than_followed_into_sname_and_file()
    {
        byte[] payload = DhcpRequestBuilder.Discover(Client, Xid).With(DhcpOptionCode.OptionOverload, 3).Build();
        Assert.False(DhcpMessage.TryRead(payload, out _, out var reason));
        Assert.Equal(DropReason.UnsupportedDhcp, reason);
    }

    [Theory]
    [InlineData(DhcpOptionCode.RequestedAddress, "0a0100")]
    [InlineData(DhcpOptionCode.RequestedAddress, "0a01001700")]
    [InlineData(DhcpOptionCode.ServerIdentifier, "")]
    [InlineData(DhcpOptionCode.LeaseTime, "000e10")]
    [InlineData(DhcpOptionCode.MessageType, "01")]         // a second 53
    [InlineData(DhcpOptionCode.ClientIdentifier, "01")]    // type byte with no identifier
    [InlineData(DhcpOptionCode.HostName, "")]
    public void A_known_option_of_the_wrong_length_or_given_twice_is_bad(byte code, string value)
    {
        byte[] payload = DhcpRequestBuilder.Discover(Client, Xid).With(code, Hex(value)).Build();
        Assert.False(DhcpMessage.TryRead(payload, out _, out var reason));
        Assert.Equal(DropReason.BadDhcpOption, reason);
    }

    [Theory]
    [InlineData(DhcpOptionCode.RequestedAddress)]
    [InlineData(DhcpOptionCode.ServerIdentifier)]
    [InlineData(DhcpOptionCode.LeaseTime)]
    public void A_known_option_given_twice_is_bad_rather_than_concatenated(byte code)
    {
        byte[] payload = DhcpRequestBuilder.Discover(Client, Xid).WithAddress(code, 1).WithAddress(code, 2).Build();
        Assert.False(DhcpMessage.TryRead(payload, out _, out var reason));
        Assert.Equal(DropReason.BadDhcpOption, reason);
    }

    [Fact]
    public void A_message_type_with_a_wrong_length_is_bad()
    {
        byte[] payload = DhcpRequestBuilder.Discover(Client, Xid).Build();
        payload[DhcpMessage.OptionsOffset + 1] = 2; // 53 of length 2, End its second byte
        Assert.False(DhcpMessage.TryRead(payload, out _, out var reason));
        Assert.Equal(DropReason.BadDhcpOption, reason);
    }

    [Fact]
    public void An_offer_round_trips_through_the_parser_with_every_field_option_and_checksum()
    {
        var fields = new DhcpReplyFields
        {
            DestinationMac = MacAddress.Broadcast,
            SourceMac = Gateway,
            SourceAddress = Server,
            DestinationAddress = uint.MaxValue,
            Identification = 0x1234,
            MessageType = DhcpMessageType.Offer,
            TransactionId = Xid,
            Flags = DhcpMessage.BroadcastFlag,
            YourAddress = Offered,
            ClientHardwareAddress = Client,
            ServerIdentifier = Server,
            LeaseSeconds = 3600,
            SubnetMask = Mask,
            Router = Server,
            DnsServers = Dns,
            InterfaceMtu = 1450,
        };
        byte[] frame = WriteReply(fields);
        Assert.Equal(DhcpReply.HeadersLength + DhcpReply.MinBootpLength, frame.Length); // padded to 300

        var message = ParseReply(frame, fields);
        Assert.Equal(DhcpMessageType.Offer, message.MessageType);
        Assert.True(message.Broadcast);
        Assert.Equal(0u, message.ClientAddress);
        Assert.Equal(Offered, message.YourAddress);
        Assert.Equal(Server, message.ServerIdentifier);
        Assert.Equal(3600u, message.LeaseTime);
        AssertOptions(
            message,
            (DhcpOptionCode.MessageType, "02"),
            (DhcpOptionCode.ServerIdentifier, "0a010001"),
            (DhcpOptionCode.LeaseTime, "00000e10"),
            (DhcpOptionCode.RenewalTime, "00000708"),   // 1800
            (DhcpOptionCode.RebindingTime, "00000c4e"), // 3150
            (DhcpOptionCode.SubnetMask, "ffffff00"),
            (DhcpOptionCode.Router, "0a010001"),
            (DhcpOptionCode.DomainNameServer, "0a010001" + "01010101"),
            (DhcpOptionCode.InterfaceMtu, "05aa"));
    }

    [Fact]
    public void An_ack_round_trips_through_the_parser_with_every_field_option_and_checksum()
    {
        uint renewing = Ipv4Address.Parse("10.1.0.99");
        var fields = new DhcpReplyFields
        {
            DestinationMac = Client,
            SourceMac = Gateway,
            SourceAddress = Server,
            DestinationAddress = renewing,
            Identification = 0xBEEF,
            MessageType = DhcpMessageType.Ack,
            TransactionId = 0xFFFF_FFFF,
            ClientAddress = renewing,
            YourAddress = renewing,
            NextServerAddress = Server,
            ClientHardwareAddress = Client,
            ServerIdentifier = Server,
            LeaseSeconds = 86_400,
            SubnetMask = Ipv4Address.Parse("255.255.0.0"),
            DnsServers = Dns.AsSpan(1),
        };
        byte[] frame = WriteReply(fields);

        var message = ParseReply(frame, fields);
        Assert.Equal(DhcpMessageType.Ack, message.MessageType);
        Assert.False(message.Broadcast);
        Assert.Equal(renewing, message.ClientAddress);
        Assert.Equal(renewing, message.YourAddress);
        Assert.Equal(Server, message.ServerAddress);
        Assert.Equal(86_400u, message.LeaseTime);
        AssertOptions(
            message,
            (DhcpOptionCode.MessageType, "05"),
            (DhcpOptionCode.ServerIdentifier, "0a010001"),
            (DhcpOptionCode.LeaseTime, "00015180"),
            (DhcpOptionCode.RenewalTime, "0000a8c0"),   // 43200
            (DhcpOptionCode.RebindingTime, "00012750"), // 75600
            (DhcpOptionCode.SubnetMask, "ffff0000"),
            (DhcpOptionCode.DomainNameServer, "01010101")); // no router, no MTU: left out
    }

    [Fact]
    public void A_nak_carries_only_message_type_and_server_identifier_and_no_addresses()
    {
        var fields = new DhcpReplyFields
        {
            DestinationMac = MacAddress.Broadcast,
            SourceMac = Gateway,
            SourceAddress = Server,
            DestinationAddress = uint.MaxValue,
            Identification = 1,
            MessageType = DhcpMessageType.Nak,
            TransactionId = Xid,
            ClientAddress = Offered,     // RFC 2131 Table 3: 0 in a NAK whatever the caller says
            YourAddress = Offered,
            NextServerAddress = Server,
            ClientHardwareAddress = Client,
            ServerIdentifier = Server,
            LeaseSeconds = 3600,         // no lease in a NAK
            SubnetMask = Mask,
            Router = Server,
            DnsServers = Dns,
            InterfaceMtu = 1450,
        };
        byte[] frame = WriteReply(fields);
        Assert.Equal(DhcpReply.HeadersLength + DhcpReply.MinBootpLength, frame.Length);

        var message = ParseReply(frame, fields);
        Assert.Equal(DhcpMessageType.Nak, message.MessageType);
        Assert.Equal(0u, message.ClientAddress);
        Assert.Equal(0u, message.YourAddress);
        Assert.Equal(0u, message.ServerAddress);
        Assert.Equal(0u, message.LeaseTime);
        AssertOptions(message, (DhcpOptionCode.MessageType, "06"), (DhcpOptionCode.ServerIdentifier, "0a010001"));
    }

    [Fact]
    public void An_ack_without_a_lease_leaves_out_51_58_and_59_and_an_infinite_lease_leaves_out_58_and_59()
    {
        var inform = new DhcpReplyFields
        {
            DestinationMac = Client,
            SourceMac = Gateway,
            SourceAddress = Server,
            DestinationAddress = Offered,
            MessageType = DhcpMessageType.Ack,
            ClientAddress = Offered,
            ClientHardwareAddress = Client,
            ServerIdentifier = Server,
            SubnetMask = Mask,
        };
        var message = ParseReply(WriteReply(inform), inform);
        AssertOptions(message, (DhcpOptionCode.MessageType, "05"), (DhcpOptionCode.ServerIdentifier, "0a010001"), (DhcpOptionCode.SubnetMask, "ffffff00"));

        var infinite = new DhcpReplyFields
        {
            DestinationMac = Client,
            SourceMac = Gateway,
            SourceAddress = Server,
            DestinationAddress = Offered,
            MessageType = DhcpMessageType.Ack,
            YourAddress = Offered,
            ClientHardwareAddress = Client,
            ServerIdentifier = Server,
            LeaseSeconds = uint.MaxValue,
        };
        message = ParseReply(WriteReply(infinite), infinite);
        Assert.Equal(uint.MaxValue, message.LeaseTime);
        AssertOptions(message, (DhcpOptionCode.MessageType, "05"), (DhcpOptionCode.ServerIdentifier, "0a010001"), (DhcpOptionCode.LeaseTime, "ffffffff"));
    }

    [Fact]
    public void The_largest_reply_fills_max_frame_length_exactly_and_every_shorter_buffer_gets_zero()
    {
        uint[] dns = Enumerable.Range(1, DhcpReply.MaxDnsServers).Select(i => (uint)i).ToArray();
        var fields = new DhcpReplyFields
        {
            DestinationMac = Client,
            SourceMac = Gateway,
            SourceAddress = Server,
            DestinationAddress = Offered,
            MessageType = DhcpMessageType.Ack,
            YourAddress = Offered,
            ClientHardwareAddress = Client,
            ServerIdentifier = Server,
            LeaseSeconds = 7,
            SubnetMask = Mask,
            Router = Server,
            DnsServers = dns,
            InterfaceMtu = 9000,
        };
        var buffer = new byte[DhcpReply.MaxFrameLength + 10];
        Assert.Equal(DhcpReply.MaxFrameLength, DhcpReply.Write(buffer, fields));
        var message = ParseReply(buffer.AsSpan(0, DhcpReply.MaxFrameLength).ToArray(), fields);
        Assert.Equal(4 * DhcpReply.MaxDnsServers, OptionsOf(message).Single(o => o.Code == DhcpOptionCode.DomainNameServer).Value.Length / 2);

        for (int length = 0; length < DhcpReply.MaxFrameLength; length++)
        {
            var shorter = new byte[length];
            Assert.Equal(0, DhcpReply.Write(shorter, fields));
            Assert.All(shorter, b => Assert.Equal(0, b)); // nothing written
        }
    }

    [Theory]
    [InlineData((byte)DhcpMessageType.Discover, 0)]
    [InlineData((byte)DhcpMessageType.Request, 0)]
    [InlineData((byte)DhcpMessageType.Inform, 0)]
    [InlineData(0, 0)]
    [InlineData((byte)DhcpMessageType.Ack, DhcpReply.MaxDnsServers + 1)]
    public void Write_refuses_client_message_types_and_more_dns_servers_than_it_has_room_for(byte type, int dnsServers)
    {
        var fields = new DhcpReplyFields { MessageType = (DhcpMessageType)type, ServerIdentifier = Server, DnsServers = new uint[dnsServers] };
        Assert.Equal(0, DhcpReply.Write(new byte[1500], fields));
    }

    [Theory]
    // RFC 2131 §4.1, for a client on the server's link.
    [InlineData("0.0.0.0", true, (byte)DhcpMessageType.Offer, "255.255.255.255", true)]   // broadcast bit: broadcast
    [InlineData("0.0.0.0", false, (byte)DhcpMessageType.Offer, "10.1.0.23", false)]       // no bit: unicast to yiaddr at chaddr
    [InlineData("0.0.0.0", false, (byte)DhcpMessageType.Ack, "10.1.0.23", false)]
    [InlineData("10.1.0.99", false, (byte)DhcpMessageType.Ack, "10.1.0.99", false)]       // renewing: unicast to ciaddr
    [InlineData("10.1.0.99", true, (byte)DhcpMessageType.Ack, "10.1.0.99", false)]        // ciaddr wins over the bit
    [InlineData("10.1.0.99", false, (byte)DhcpMessageType.Nak, "255.255.255.255", true)]  // a NAK is always broadcast
    [InlineData("0.0.0.0", false, (byte)DhcpMessageType.Nak, "255.255.255.255", true)]
    public void Replies_go_where_rfc_2131_section_4_1_sends_them(string ciaddr, bool broadcast, byte type, string expectedIp, bool expectedBroadcastMac)
    {
        byte[] payload = new DhcpRequestBuilder
        {
            MessageType = DhcpMessageType.Request,
            ClientHardwareAddress = Client,
            ClientAddress = Ipv4Address.Parse(ciaddr),
            Flags = broadcast ? DhcpMessage.BroadcastFlag : (ushort)0,
        }.Build();
        Assert.True(DhcpMessage.TryRead(payload, out var request, out _));

        Assert.True(DhcpReply.DestinationFor(request, Offered, (DhcpMessageType)type, out uint ip, out bool broadcastMac));
        Assert.Equal(Ipv4Address.Parse(expectedIp), ip);
        Assert.Equal(expectedBroadcastMac, broadcastMac);
    }

    [Fact]
    public void A_relayed_request_has_no_destination_because_relays_are_not_served()
    {
        byte[] payload = new DhcpRequestBuilder
        {
            MessageType = DhcpMessageType.Discover,
            ClientHardwareAddress = Client,
            RelayAddress = Ipv4Address.Parse("10.9.0.1"),
            Hops = 1,
        }.Build();
        Assert.True(DhcpMessage.TryRead(payload, out var request, out _));
        Assert.Equal(Ipv4Address.Parse("10.9.0.1"), request.RelayAddress);
        Assert.Equal(1, request.Hops);
        Assert.False(DhcpReply.DestinationFor(request, Offered, DhcpMessageType.Offer, out _, out _));
    }

    [Fact]
    public void Reading_a_request_and_writing_its_reply_allocate_nothing()
    {
        byte[] payload = DhcpRequestBuilder.Request(Client, Xid, Offered, Server).With(DhcpOptionCode.ClientIdentifier, 1, 2, 3).Build();
        byte[] frame = new byte[DhcpReply.MaxFrameLength];
        uint[] dns = Dns;
        long written = 0;
        IReadOnlyList<long> windows = AllocationWindows.Measure(() =>
        {
            DhcpMessage.TryRead(payload, out var request, out _);
            DhcpReply.DestinationFor(request, request.RequestedAddress, DhcpMessageType.Ack, out uint ip, out bool broadcastMac);
            written += DhcpReply.Write(frame, new DhcpReplyFields
            {
                DestinationMac = broadcastMac ? MacAddress.Broadcast : request.ClientHardwareAddress,
                SourceMac = Gateway,
                SourceAddress = Server,
                DestinationAddress = ip,
                MessageType = DhcpMessageType.Ack,
                TransactionId = request.TransactionId,
                Flags = request.Flags,
                YourAddress = request.RequestedAddress,
                ClientHardwareAddress = request.ClientHardwareAddress,
                ServerIdentifier = Server,
                LeaseSeconds = 3600,
                SubnetMask = Mask,
                DnsServers = dns,
                InterfaceMtu = 1450,
            });
        });

        Assert.Equal(0, windows[^1]);
        Assert.Equal((long)AllocationWindows.Rounds(windows) * (DhcpReply.HeadersLength + DhcpReply.MinBootpLength), written);
    }

    private static byte[] WriteReply(in DhcpReplyFields fields)
    {
        var buffer = new byte[DhcpReply.MaxFrameLength];
        int length = DhcpReply.Write(buffer, fields);
        Assert.InRange(length, DhcpReply.HeadersLength + DhcpReply.MinBootpLength, DhcpReply.MaxFrameLength);
        return buffer.AsSpan(0, length).ToArray();
    }

    /// <summary>Reads a reply frame layer by layer, checking every header against <paramref name="fields"/> and both checksums.</summary>
    private static DhcpMessage ParseReply(byte[] frame, in DhcpReplyFields fields)
    {
        Assert.True(EthernetFrame.TryParse(frame, out var eth, out _));
        Assert.Equal(fields.DestinationMac, eth.Destination);
        Assert.Equal(fields.SourceMac, eth.Source);
        Assert.Equal(EtherType.Ipv4, eth.EtherType);

        Assert.True(Ipv4Packet.TryParse(eth.Payload, out var ip, out var reason), reason.ToString());
        Assert.Equal(eth.Payload.Length, ip.TotalLength); // no trailing bytes
        Assert.True(InternetChecksum.Verify(ip.Packet.Slice(0, ip.HeaderLength)));
        Assert.Equal(Ipv4Packet.MinHeaderLength, ip.HeaderLength);
        Assert.Equal(64, ip.TimeToLive);
        Assert.Equal(IpProtocol.Udp, ip.Protocol);
        Assert.False(ip.DontFragment);
        Assert.False(ip.IsFragment);
        Assert.Equal(fields.Identification, ip.Identification);
        Assert.Equal(fields.SourceAddress, ip.Source);
        Assert.Equal(fields.DestinationAddress, ip.Destination);

        Assert.True(UdpDatagram.TryParse(ip.Payload, out var udp, out reason), reason.ToString());
        Assert.Equal(ip.Payload.Length, udp.Length);
        Assert.Equal(DhcpMessage.ServerPort, udp.SourcePort);
        Assert.Equal(DhcpMessage.ClientPort, udp.DestinationPort);
        Assert.NotEqual(0, udp.Checksum);
        Span<byte> pseudo = stackalloc byte[12];
        BinaryPrimitives.WriteUInt32BigEndian(pseudo, ip.Source);
        BinaryPrimitives.WriteUInt32BigEndian(pseudo.Slice(4), ip.Destination);
        pseudo[8] = 0;
        pseudo[9] = IpProtocol.Udp;
        BinaryPrimitives.WriteUInt16BigEndian(pseudo.Slice(10), (ushort)udp.Length);
        Assert.Equal(0xFFFF, InternetChecksum.Fold(InternetChecksum.Add(InternetChecksum.Add(0, pseudo), udp.Datagram)));

        ReadOnlySpan<byte> bootp = udp.Payload;
        Assert.True(bootp.Length >= DhcpReply.MinBootpLength);
        Assert.True(DhcpMessage.TryRead(bootp, out var message, out reason), reason.ToString());
        Assert.Equal(DhcpMessage.BootReply, message.Op);
        Assert.Equal(1, message.HardwareType);
        Assert.Equal(6, message.HardwareLength);
        Assert.Equal(0, message.Hops);
        Assert.Equal(0, message.Seconds);
        Assert.Equal(fields.TransactionId, message.TransactionId);
        Assert.Equal(fields.Flags, message.Flags);
        Assert.Equal(fields.RelayAddress, message.RelayAddress);
        Assert.Equal(fields.ClientHardwareAddress, message.ClientHardwareAddress);
        Assert.Equal(0u, message.RequestedAddress);
        Assert.True(bootp.Slice(DhcpMessage.ClientHardwareAddressOffset + 6, 10).IndexOfAnyExcept((byte)0) < 0); // chaddr padding
        Assert.True(bootp.Slice(DhcpMessage.ServerNameOffset, 64 + 128).IndexOfAnyExcept((byte)0) < 0);       // sname, file
        DhcpRequestBuilder.Options(bootp, out int end);
        Assert.True(bootp.Slice(end + 1).IndexOfAnyExcept((byte)0) < 0);                                      // padding after End
        return message;
    }

    private static void AssertOptions(DhcpMessage message, params (byte Code, string Value)[] expected)
        => Assert.Equal(expected, OptionsOf(message));

    private static (byte Code, string Value)[] OptionsOf(DhcpMessage message)
        => DhcpRequestBuilder.Options(message.Payload).Select(o => (o.Code, Convert.ToHexStringLower(o.Value))).ToArray();
}
