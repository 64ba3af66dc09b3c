using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using Fabric.Addressing;

namespace Fabric.HostAgent.Wire;

/// <summary>DHCP message types: the value of option 53 (RFC 2132 §9.6).</summary>
internal enum DhcpMessageType : byte
{
    Discover = 1,
    Offer = 2,
    Request = 3,
    Decline = 4,
    Ack = 5,
    Nak = 6,
    Release = 7,
    Inform = 8,
}

/// <summary>The DHCP option codes this codec reads or writes (RFC 2132; IANA "BOOTP Vendor Extensions and DHCP Options").</summary>
internal static class DhcpOptionCode
{
    /// <summary>RFC 2132 §3.1: a single byte with no length, to align what follows.</summary>
    public const byte Pad = 0;

    /// <summary>RFC 2132 §3.3: 4 bytes.</summary>
    public const byte SubnetMask = 1;

    /// <summary>RFC 2132 §3.5: a multiple of 4 bytes, preferred router first.</summary>
    public const byte Router = 3;

    /// <summary>RFC 2132 §3.8: a multiple of 4 bytes, preferred server first.</summary>
    public const byte DomainNameServer = 6;

    /// <summary>RFC 2132 §3.14: at least 1 byte of name, not NUL-terminated.</summary>
    public const byte HostName = 12;

    /// <summary>RFC 2132 §5.1: 2 bytes, at least 68.</summary>
    public const byte InterfaceMtu = 26;

    /// <summary>RFC 2132 §9.1: 4 bytes.</summary>
    public const byte RequestedAddress = 50;

    /// <summary>RFC 2132 §9.2: 4 bytes, seconds; 0xFFFFFFFF is infinite.</summary>
    public const byte LeaseTime = 51;

    /// <summary>RFC 2132 §9.3: options continue in sname and/or file.</summary>
    public const byte OptionOverload = 52;

    /// <summary>RFC 2132 §9.6: 1 byte, a <see cref="DhcpMessageType"/>.</summary>
    public const byte MessageType = 53;

    /// <summary>RFC 2132 §9.7: 4 bytes.</summary>
    public const byte ServerIdentifier = 54;

    /// <summary>RFC 2132 §9.11: 4 bytes, seconds (T1).</summary>
    public const byte RenewalTime = 58;

    /// <summary>RFC 2132 §9.12: 4 bytes, seconds (T2).</summary>
    public const byte RebindingTime = 59;

    /// <summary>RFC 2132 §9.14: a type byte and at least 1 byte of identifier.</summary>
    public const byte ClientIdentifier = 61;

    /// <summary>RFC 2132 §3.2: a single byte that ends the options.</summary>
    public const byte End = 255;
}

/// <summary>
/// A view over a DHCP message (RFC 2131 §2), the payload of a UDP datagram between ports 67 and 68:
/// the fixed BOOTP header, the magic cookie 99.130.83.99 and the options (RFC 2132).
/// <code>
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +---------------+---------------+---------------+---------------+
/// |     op (1)    |   htype (1)   |   hlen (1)    |   hops (1)    |
/// +---------------+---------------+---------------+---------------+
/// |                            xid (4)                            |
/// +-------------------------------+-------------------------------+
/// |           secs (2)            |           flags (2)           |
/// +-------------------------------+-------------------------------+
/// |                          ciaddr  (4)                          |
/// +---------------------------------------------------------------+
/// |                          yiaddr  (4)                          |
/// +---------------------------------------------------------------+
/// |                          siaddr  (4)                          |
/// +---------------------------------------------------------------+
/// |                          giaddr  (4)                          |
/// +---------------------------------------------------------------+
/// |                          chaddr  (16)                         |
/// +---------------------------------------------------------------+
/// |                          sname   (64)                         |
/// +---------------------------------------------------------------+
/// |                          file    (128)                        |
/// +---------------------------------------------------------------+
/// |                          options (variable)                   |
/// +---------------------------------------------------------------+
/// </code>
/// Addresses are host-order <see cref="uint"/>s. The view keeps the payload span and reads the fixed
/// fields on demand; the options it knows are found once by <see cref="TryRead"/>, and the variable
/// ones (<see cref="ClientIdentifier"/>, <see cref="HostName"/>) are slices of the payload, so reading a
/// message allocates nothing.
/// <para>
/// What is refused, and why: a payload shorter than the header and cookie (<see cref="DropReason.Truncated"/>);
/// an op other than 1 or 2, a missing cookie or a missing option 53 (<see cref="DropReason.NotDhcp"/>: RFC 2131
/// §3 makes option 53 part of every DHCP message, so without it this is BOOTP, which Fabric does not serve);
/// hardware other than Ethernet, a message type outside 1..8, and option overload (<see cref="DropReason.UnsupportedDhcp"/>);
/// an option whose length runs past the payload (<see cref="DropReason.Truncated"/>); a known option with a
/// length its code does not allow, or given twice (<see cref="DropReason.BadDhcpOption"/>).
/// </para>
/// <para>
/// Option overload (option 52, RFC 2132 §9.3) is refused rather than followed: a message that moves options
/// into sname/file would need a second and third option walk for something no common client sends
/// (a client's messages are far below the 312-byte options field RFC 2131 §2 guarantees), and ignoring it
/// could silently miss a requested address. Repeated options are refused rather than concatenated as
/// RFC 3396 allows: every option this view reads is short, and a split identifier could not be exposed
/// as one slice without copying. Options after End are not read; a list that runs to the end of the
/// payload without End is accepted: every option before it is complete, and refusing the message
/// would gain nothing.
/// </para>
/// </summary>
[SkipLocalsInit]
internal readonly ref struct DhcpMessage
{
    /// <summary>The DHCP server's UDP port (RFC 2131 §4.1).</summary>
    public const ushort ServerPort = 67;

    /// <summary>The DHCP client's UDP port (RFC 2131 §4.1).</summary>
    public const ushort ClientPort = 68;

    /// <summary>op of a message from a client (RFC 951 §3).</summary>
    public const byte BootRequest = 1;

    /// <summary>op of a message from a server (RFC 951 §3).</summary>
    public const byte BootReply = 2;

    /// <summary>op through file: the BOOTP header (RFC 2131 §2, Table 1).</summary>
    public const int FixedHeaderLength = 236;

    /// <summary>99.130.83.99, the first four bytes of the options field (RFC 2131 §3, RFC 2132 §2).</summary>
    public const uint MagicCookie = 0x6382_5363;

    /// <summary>Where the first option starts: after the fixed header and the cookie.</summary>
    public const int OptionsOffset = FixedHeaderLength + 4;

    /// <summary>The broadcast bit of flags (RFC 2131 §2, Figure 2); the other 15 bits are reserved.</summary>
    public const ushort BroadcastFlag = 0x8000;

    /// <summary>htype of 10 Mb Ethernet, which every Ethernet speed uses (RFC 1700, "Hardware Type").</summary>
    public const byte HardwareTypeEthernet = 1;

    internal const int ClientHardwareAddressOffset = 28;
    internal const int ClientHardwareAddressLength = 16;
    internal const int ServerNameOffset = 44;
    internal const int FileOffset = 108;

    private const int ClientIdentifierMinLength = 2; // RFC 2132 §9.14: a type byte and an identifier
    private const int AddressOptionLength = 4;

    private readonly ReadOnlySpan<byte> _payload;
    private readonly ushort _clientIdentifierOffset;
    private readonly byte _clientIdentifierLength;
    private readonly ushort _hostNameOffset;
    private readonly byte _hostNameLength;

    private DhcpMessage(
        ReadOnlySpan<byte> payload,
        DhcpMessageType messageType,
        uint requestedAddress,
        uint serverIdentifier,
        uint leaseTime,
        int clientIdentifierOffset,
        int clientIdentifierLength,
        int hostNameOffset,
        int hostNameLength)
    {
        _payload = payload;
        MessageType = messageType;
        RequestedAddress = requestedAddress;
        ServerIdentifier = serverIdentifier;
        LeaseTime = leaseTime;
        _clientIdentifierOffset = (ushort)clientIdentifierOffset;
        _clientIdentifierLength = (byte)clientIdentifierLength;
        _hostNameOffset = (ushort)hostNameOffset;
        _hostNameLength = (byte)hostNameLength;
    }

    /// <summary>The whole UDP payload this view was read from.</summary>
    public ReadOnlySpan<byte> Payload => _payload;

    /// <summary><see cref="BootRequest"/> or <see cref="BootReply"/>.</summary>
    public byte Op => _payload[0];

    /// <summary>Always <see cref="HardwareTypeEthernet"/> in a message that was accepted.</summary>
    public byte HardwareType => _payload[1];

    /// <summary>Always 6 in a message that was accepted.</summary>
    public byte HardwareLength => _payload[2];

    /// <summary>Relay agent hops; 0 from a client on the link.</summary>
    public byte Hops => _payload[3];

    /// <summary>xid: chosen by the client, echoed in every reply (RFC 2131 §2).</summary>
    public uint TransactionId => BinaryPrimitives.ReadUInt32BigEndian(_payload.Slice(4));

    /// <summary>Seconds since the client began acquiring or renewing.</summary>
    public ushort Seconds => BinaryPrimitives.ReadUInt16BigEndian(_payload.Slice(8));

    public ushort Flags => BinaryPrimitives.ReadUInt16BigEndian(_payload.Slice(10));

    /// <summary>The client cannot receive unicast before it is configured: replies go to 255.255.255.255 (RFC 2131 §4.1).</summary>
    public bool Broadcast => (Flags & BroadcastFlag) != 0;

    /// <summary>ciaddr: the client's address when it is bound, renewing or rebinding; otherwise 0.</summary>
    public uint ClientAddress => BinaryPrimitives.ReadUInt32BigEndian(_payload.Slice(12));

    /// <summary>yiaddr: the address a server offers or acknowledges.</summary>
    public uint YourAddress => BinaryPrimitives.ReadUInt32BigEndian(_payload.Slice(16));

    /// <summary>siaddr: the next server in bootstrap (not the DHCP server; that is <see cref="ServerIdentifier"/>).</summary>
    public uint ServerAddress => BinaryPrimitives.ReadUInt32BigEndian(_payload.Slice(20));

    /// <summary>giaddr: the relay agent's address, 0 when the client is on the server's link.</summary>
    public uint RelayAddress => BinaryPrimitives.ReadUInt32BigEndian(_payload.Slice(24));

    /// <summary>The first 6 bytes of chaddr (htype 1, hlen 6 is all this view accepts).</summary>
    public MacAddress ClientHardwareAddress => MacAddress.Read(_payload.Slice(ClientHardwareAddressOffset));

    /// <summary>Option 53; every accepted message has one.</summary>
    public DhcpMessageType MessageType { get; }

    /// <summary>Option 50, 0 if absent: the address a client asks for in DISCOVER or REQUEST (RFC 2131 §4.3.2).</summary>
    public uint RequestedAddress { get; }

    /// <summary>Option 54, 0 if absent: the server a REQUEST selects, or that a RELEASE or DECLINE is for.</summary>
    public uint ServerIdentifier { get; }

    /// <summary>Option 51 in seconds, 0 if absent; 0xFFFFFFFF is infinite (RFC 2131 §3.3).</summary>
    public uint LeaseTime { get; }

    /// <summary>Option 61, its type byte first; empty if absent. A server keys leases on it when present (RFC 2131 §4.2).</summary>
    public ReadOnlySpan<byte> ClientIdentifier => _payload.Slice(_clientIdentifierOffset, _clientIdentifierLength);

    /// <summary>Option 12, the client's name as sent (not NUL-terminated by RFC 2132, though some clients add one); empty if absent.</summary>
    public ReadOnlySpan<byte> HostName => _payload.Slice(_hostNameOffset, _hostNameLength);

    /// <summary>
    /// Reads a DHCP message from <paramref name="udpPayload"/>, the payload of a UDP datagram sliced to its
    /// length. Never throws; on false <paramref name="reason"/> says why (see the type's summary).
    /// </summary>
    public static bool TryRead(ReadOnlySpan<byte> udpPayload, out DhcpMessage message, out DropReason reason)
    {
        message = default;
        if (udpPayload.Length < OptionsOffset)
        {
            reason = DropReason.Truncated;
            return false;
        }

        if (BinaryPrimitives.ReadUInt32BigEndian(udpPayload.Slice(FixedHeaderLength)) != MagicCookie
            || udpPayload[0] is not (BootRequest or BootReply))
        {
            reason = DropReason.NotDhcp;
            return false;
        }

        if (udpPayload[1] != HardwareTypeEthernet || udpPayload[2] != EthernetFrame.MacLength)
        {
            reason = DropReason.UnsupportedDhcp;
            return false;
        }

        byte messageType = 0;
        uint requestedAddress = 0, serverIdentifier = 0, leaseTime = 0;
        int clientIdentifierOffset = 0, clientIdentifierLength = 0, hostNameOffset = 0, hostNameLength = 0;
        ulong seen = 0; // one bit per option code below 64, to refuse repeats

        int at = OptionsOffset;
        while (at < udpPayload.Length)
        {
            byte code = udpPayload[at];
            if (code == DhcpOptionCode.Pad)
            {
                at++;
                continue;
            }

            if (code == DhcpOptionCode.End)
            {
                break;
            }

            // Every other option is code, length, value (RFC 2132 §2).
            if (at + 2 > udpPayload.Length)
            {
                reason = DropReason.Truncated;
                return false;
            }

            int length = udpPayload[at + 1];
            int valueOffset = at + 2;
            if (valueOffset + length > udpPayload.Length)
            {
                reason = DropReason.Truncated;
                return false;
            }

            ReadOnlySpan<byte> value = udpPayload.Slice(valueOffset, length);
            at = valueOffset + length;
            if (code >= 64)
            {
                continue; // nothing this view reads
            }

            ulong bit = 1UL << code;
            bool repeated = (seen & bit) != 0;
            seen |= bit;
            switch (code)
            {
                case DhcpOptionCode.MessageType:
                    if (repeated || length != 1)
                    {
                        reason = DropReason.BadDhcpOption;
                        return false;
                    }

                    messageType = value[0];
                    if (messageType is < (byte)DhcpMessageType.Discover or > (byte)DhcpMessageType.Inform)
                    {
                        reason = DropReason.UnsupportedDhcp;
                        return false;
                    }

                    break;

                case DhcpOptionCode.RequestedAddress:
                case DhcpOptionCode.ServerIdentifier:
                case DhcpOptionCode.LeaseTime:
                    if (repeated || length != AddressOptionLength)
                    {
                        reason = DropReason.BadDhcpOption;
                        return false;
                    }

                    uint number = BinaryPrimitives.ReadUInt32BigEndian(value);
                    if (code == DhcpOptionCode.RequestedAddress)
                    {
                        requestedAddress = number;
                    }
                    else if (code == DhcpOptionCode.ServerIdentifier)
                    {
                        serverIdentifier = number;
                    }
                    else
                    {
                        leaseTime = number;
                    }

                    break;

                case DhcpOptionCode.ClientIdentifier:
                    if (repeated || length < ClientIdentifierMinLength)
                    {
                        reason = DropReason.BadDhcpOption;
                        return false;
                    }

                    clientIdentifierOffset = valueOffset;
                    clientIdentifierLength = length;
                    break;

                case DhcpOptionCode.HostName:
                    if (repeated || length == 0)
                    {
                        reason = DropReason.BadDhcpOption;
                        return false;
                    }

                    hostNameOffset = valueOffset;
                    hostNameLength = length;
                    break;

                case DhcpOptionCode.OptionOverload:
                    reason = DropReason.UnsupportedDhcp;
                    return false;
            }
        }

        if (messageType == 0)
        {
            reason = DropReason.NotDhcp;
            return false;
        }

        message = new DhcpMessage(
            udpPayload,
            (DhcpMessageType)messageType,
            requestedAddress,
            serverIdentifier,
            leaseTime,
            clientIdentifierOffset,
            clientIdentifierLength,
            hostNameOffset,
            hostNameLength);
        reason = DropReason.None;
        return true;
    }
}

/// <summary>
/// Everything one DHCP reply carries, filled by the server and laid out by <see cref="DhcpReply.Write"/>.
/// Addresses are host-order <see cref="uint"/>s; 0 leaves an optional option out. A <c>ref struct</c> so
/// that <see cref="DnsServers"/> can be a span of the server's own configuration, copied nowhere.
/// </summary>
internal readonly ref struct DhcpReplyFields
{
    /// <summary>Ethernet destination: the client's MAC, or broadcast (see <see cref="DhcpReply.DestinationFor"/>).</summary>
    public MacAddress DestinationMac { get; init; }

    /// <summary>Ethernet source: the server's (the segment gateway's) MAC.</summary>
    public MacAddress SourceMac { get; init; }

    /// <summary>IPv4 source: the server's address, normally equal to <see cref="ServerIdentifier"/>.</summary>
    public uint SourceAddress { get; init; }

    /// <summary>IPv4 destination: 255.255.255.255, ciaddr or yiaddr (see <see cref="DhcpReply.DestinationFor"/>).</summary>
    public uint DestinationAddress { get; init; }

    /// <summary>IPv4 identification field.</summary>
    public ushort Identification { get; init; }

    /// <summary><see cref="DhcpMessageType.Offer"/>, <see cref="DhcpMessageType.Ack"/> or <see cref="DhcpMessageType.Nak"/>.</summary>
    public DhcpMessageType MessageType { get; init; }

    /// <summary>xid of the request being answered.</summary>
    public uint TransactionId { get; init; }

    /// <summary>flags of the request being answered (RFC 2131 Table 3: "flags from client").</summary>
    public ushort Flags { get; init; }

    /// <summary>ciaddr: the request's ciaddr in an ACK (RFC 2131 Table 3), 0 in an OFFER; forced to 0 in a NAK.</summary>
    public uint ClientAddress { get; init; }

    /// <summary>yiaddr: the address offered or acknowledged; forced to 0 in a NAK.</summary>
    public uint YourAddress { get; init; }

    /// <summary>siaddr: the next bootstrap server, usually 0; forced to 0 in a NAK.</summary>
    public uint NextServerAddress { get; init; }

    /// <summary>giaddr: copied from the request (0 until relays are served).</summary>
    public uint RelayAddress { get; init; }

    /// <summary>chaddr: the request's client hardware address, written into 16 bytes with 10 of zeros.</summary>
    public MacAddress ClientHardwareAddress { get; init; }

    /// <summary>Option 54, which an OFFER, ACK and NAK MUST carry (RFC 2131 Table 3).</summary>
    public uint ServerIdentifier { get; init; }

    /// <summary>
    /// Option 51 in seconds, with T1 = lease/2 (58) and T2 = lease×7/8 (59), RFC 2131 §4.4.5. 0 leaves all
    /// three out, as an ACK to an INFORM must (RFC 2131 Table 3); 0xFFFFFFFF (infinite) writes 51 alone.
    /// </summary>
    public uint LeaseSeconds { get; init; }

    /// <summary>Option 1, left out if 0.</summary>
    public uint SubnetMask { get; init; }

    /// <summary>Option 3, left out if 0.</summary>
    public uint Router { get; init; }

    /// <summary>Option 6, preferred first; left out if empty. At most <see cref="DhcpReply.MaxDnsServers"/>.</summary>
    public ReadOnlySpan<uint> DnsServers { get; init; }

    /// <summary>Option 26 in bytes, left out if 0.</summary>
    public ushort InterfaceMtu { get; init; }
}

/// <summary>
/// Writes a DHCP server's reply as a whole Ethernet frame: Ethernet II, IPv4 (RFC 791; TTL 64, DF clear),
/// UDP 67 → 68 with its checksum (RFC 768) and the BOOTP reply (RFC 2131 §2, Table 3) with its options
/// (RFC 2132) in this order: 53, 54, 51, 58, 59, 1, 3, 6, 26, End. A NAK carries 53, 54 and End only, with
/// ciaddr, yiaddr and siaddr 0. The BOOTP message is padded with zeros to at least 300 bytes, the
/// minimum BOOTP message (RFC 951 §3's 64-byte vend field; RFC 1542 §2.1), which some clients still
/// insist on. Relay agents are not served: giaddr is copied, but the reply always goes to port 68.
/// </summary>
[SkipLocalsInit]
internal static class DhcpReply
{
    /// <summary>The most addresses option 6 carries; <see cref="MaxFrameLength"/> has room for them.</summary>
    public const int MaxDnsServers = 8;

    /// <summary>A reply's BOOTP message is never shorter (RFC 951 §3: a 64-byte vend field; RFC 1542 §2.1).</summary>
    public const int MinBootpLength = 300;

    /// <summary>
    /// The longest options field a reply can need, cookie excluded: 53 (3), 54 (6), 51, 58, 59 (6 each),
    /// 1 and 3 (6 each), 6 with <see cref="MaxDnsServers"/> addresses, 26 (4) and End (1). Far inside the
    /// 312-byte options field every client accepts (RFC 2131 §2), so no reply needs option overload.
    /// </summary>
    public const int MaxOptionsLength = 3 + 6 + 6 + 6 + 6 + 6 + 6 + (2 + 4 * MaxDnsServers) + 4 + 1;

    /// <summary>Frame headers in front of the BOOTP message: Ethernet, IPv4 without options, UDP.</summary>
    public const int HeadersLength = EthernetFrame.HeaderLength + Ipv4Packet.MinHeaderLength + UdpDatagram.HeaderLength;

    /// <summary>A buffer this long holds any reply <see cref="Write"/> makes (360 bytes).</summary>
    public const int MaxFrameLength = HeadersLength + DhcpMessage.OptionsOffset + MaxOptionsLength;

    private const byte TimeToLive = 64;
    private const uint InfiniteLease = uint.MaxValue;

    /// <summary>
    /// Where a reply to <paramref name="request"/> goes, by RFC 2131 §4.1 for a client on the server's own
    /// link: a NAK is broadcast; an OFFER or ACK is unicast to ciaddr when the client has one, broadcast
    /// when ciaddr is 0 and the client set the broadcast bit, and otherwise unicast to <paramref name="yiaddr"/>
    /// at chaddr (the frame is addressed to chaddr directly: there is no ARP for an address the client does
    /// not have yet). <paramref name="broadcastMac"/> is true for 255.255.255.255, whose frame goes to
    /// ff:ff:ff:ff:ff:ff; otherwise the Ethernet destination is <see cref="DhcpMessage.ClientHardwareAddress"/>.
    /// Relayed requests (giaddr ≠ 0, replies to the relay's port 67) are not supported: false.
    /// </summary>
    public static bool DestinationFor(in DhcpMessage request, uint yiaddr, DhcpMessageType type, out uint ip, out bool broadcastMac)
    {
        if (request.RelayAddress != 0)
        {
            ip = 0;
            broadcastMac = false;
            return false;
        }

        uint ciaddr = request.ClientAddress;
        if (type == DhcpMessageType.Nak || (ciaddr == 0 && request.Broadcast))
        {
            ip = uint.MaxValue;
            broadcastMac = true;
        }
        else
        {
            ip = ciaddr != 0 ? ciaddr : yiaddr;
            broadcastMac = false;
        }

        return true;
    }

    /// <summary>
    /// Writes the reply frame at the start of <paramref name="destination"/> and returns its length, at most
    /// <see cref="MaxFrameLength"/>. Returns 0, writing nothing, when <paramref name="destination"/> is too
    /// short, the message type is not OFFER, ACK or NAK, or there are more than <see cref="MaxDnsServers"/>
    /// DNS servers. Never throws.
    /// </summary>
    public static int Write(Span<byte> destination, in DhcpReplyFields fields)
    {
        DhcpMessageType type = fields.MessageType;
        if (type is not (DhcpMessageType.Offer or DhcpMessageType.Ack or DhcpMessageType.Nak)
            || fields.DnsServers.Length > MaxDnsServers)
        {
            return 0;
        }

        bool nak = type == DhcpMessageType.Nak;
        int bootpLength = Math.Max(MinBootpLength, DhcpMessage.OptionsOffset + OptionsLength(in fields, nak));
        int frameLength = HeadersLength + bootpLength;
        if (destination.Length < frameLength)
        {
            return 0;
        }

        Span<byte> frame = destination.Slice(0, frameLength);
        int at = EthernetFrame.WriteHeader(frame, fields.DestinationMac, fields.SourceMac, EtherType.Ipv4);
        int udpLength = UdpDatagram.HeaderLength + bootpLength;
        at += Ipv4Packet.WriteHeader(
            frame.Slice(at),
            fields.SourceAddress,
            fields.DestinationAddress,
            IpProtocol.Udp,
            (ushort)(Ipv4Packet.MinHeaderLength + udpLength),
            fields.Identification,
            TimeToLive,
            dontFragment: false);
        Span<byte> udp = frame.Slice(at);
        UdpDatagram.WriteHeader(udp, DhcpMessage.ServerPort, DhcpMessage.ClientPort, (ushort)udpLength);

        // RFC 2131 Table 3: hops and secs 0, sname and file unused; the padding after End is Pad (0) too.
        Span<byte> bootp = udp.Slice(UdpDatagram.HeaderLength);
        bootp.Clear();
        bootp[0] = DhcpMessage.BootReply;
        bootp[1] = DhcpMessage.HardwareTypeEthernet;
        bootp[2] = EthernetFrame.MacLength;
        BinaryPrimitives.WriteUInt32BigEndian(bootp.Slice(4), fields.TransactionId);
        BinaryPrimitives.WriteUInt16BigEndian(bootp.Slice(10), fields.Flags);
        if (!nak)
        {
            BinaryPrimitives.WriteUInt32BigEndian(bootp.Slice(12), fields.ClientAddress);
            BinaryPrimitives.WriteUInt32BigEndian(bootp.Slice(16), fields.YourAddress);
            BinaryPrimitives.WriteUInt32BigEndian(bootp.Slice(20), fields.NextServerAddress);
        }

        BinaryPrimitives.WriteUInt32BigEndian(bootp.Slice(24), fields.RelayAddress);
        fields.ClientHardwareAddress.Write(bootp.Slice(DhcpMessage.ClientHardwareAddressOffset));
        BinaryPrimitives.WriteUInt32BigEndian(bootp.Slice(DhcpMessage.FixedHeaderLength), DhcpMessage.MagicCookie);

        Span<byte> options = bootp.Slice(DhcpMessage.OptionsOffset);
        options[0] = DhcpOptionCode.MessageType;
        options[1] = 1;
        options[2] = (byte)type;
        int o = 3;
        o += WriteUInt32Option(options.Slice(o), DhcpOptionCode.ServerIdentifier, fields.ServerIdentifier);
        if (!nak)
        {
            uint lease = fields.LeaseSeconds;
            if (lease != 0)
            {
                o += WriteUInt32Option(options.Slice(o), DhcpOptionCode.LeaseTime, lease);
                if (lease != InfiniteLease)
                {
                    // RFC 2131 §4.4.5: T1 defaults to 0.5 × lease, T2 to 0.875 × lease.
                    o += WriteUInt32Option(options.Slice(o), DhcpOptionCode.RenewalTime, lease / 2);
                    o += WriteUInt32Option(options.Slice(o), DhcpOptionCode.RebindingTime, (uint)((ulong)lease * 7 / 8));
                }
            }

            if (fields.SubnetMask != 0)
            {
                o += WriteUInt32Option(options.Slice(o), DhcpOptionCode.SubnetMask, fields.SubnetMask);
            }

            if (fields.Router != 0)
            {
                o += WriteUInt32Option(options.Slice(o), DhcpOptionCode.Router, fields.Router);
            }

            ReadOnlySpan<uint> dns = fields.DnsServers;
            if (dns.Length > 0)
            {
                options[o] = DhcpOptionCode.DomainNameServer;
                options[o + 1] = (byte)(dns.Length * 4);
                o += 2;
                foreach (uint server in dns)
                {
                    BinaryPrimitives.WriteUInt32BigEndian(options.Slice(o), server);
                    o += 4;
                }
            }

            if (fields.InterfaceMtu != 0)
            {
                options[o] = DhcpOptionCode.InterfaceMtu;
                options[o + 1] = 2;
                BinaryPrimitives.WriteUInt16BigEndian(options.Slice(o + 2), fields.InterfaceMtu);
                o += 4;
            }
        }

        options[o] = DhcpOptionCode.End;

        UdpDatagram.WriteChecksum(udp.Slice(0, udpLength), fields.SourceAddress, fields.DestinationAddress);
        return frameLength;
    }

    /// <summary>The options <see cref="Write"/> puts after the cookie, End included.</summary>
    private static int OptionsLength(in DhcpReplyFields fields, bool nak)
    {
        int length = 3 + 6 + 1; // 53, 54, End
        if (nak)
        {
            return length;
        }

        if (fields.LeaseSeconds != 0)
        {
            length += fields.LeaseSeconds == InfiniteLease ? 6 : 18;
        }

        length += fields.SubnetMask != 0 ? 6 : 0;
        length += fields.Router != 0 ? 6 : 0;
        length += fields.DnsServers.Length > 0 ? 2 + 4 * fields.DnsServers.Length : 0;
        length += fields.InterfaceMtu != 0 ? 4 : 0;
        return length;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int WriteUInt32Option(Span<byte> destination, byte code, uint value)
    {
        BinaryPrimitives.WriteUInt32BigEndian(destination.Slice(2, 4), value);
        destination[0] = code;
        destination[1] = 4;
        return 6;
    }
}
