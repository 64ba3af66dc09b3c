using System.Buffers.Binary;
using Fabric.Addressing;
using Fabric.HostAgent.Wire;

namespace Fabric.HostAgent.Tests.Wire;

/// <summary>
/// Builds the BOOTP payload of a client's DHCP message (RFC 2131 §2, options RFC 2132) for tests: the
/// production agent only answers clients, so only tests need to speak as one. Allocates freely.
/// </summary>
internal sealed class DhcpRequestBuilder
{
    private readonly List<(byte Code, byte[] Value)> _options = [];

    /// <summary>Option 53, written first; null leaves it out (a BOOTP message).</summary>
    public DhcpMessageType? MessageType { get; init; }

    public byte Op { get; init; } = DhcpMessage.BootRequest;

    public byte HardwareType { get; init; } = DhcpMessage.HardwareTypeEthernet;

    public byte HardwareLength { get; init; } = 6;

    public byte Hops { get; init; }

    public uint TransactionId { get; init; }

    public ushort Seconds { get; init; }

    public ushort Flags { get; init; }

    public uint ClientAddress { get; init; }

    public uint RelayAddress { get; init; }

    public MacAddress ClientHardwareAddress { get; init; }

    /// <summary>Whether the options end with End (255).</summary>
    public bool WriteEnd { get; init; } = true;

    /// <summary>Zero bytes after End, as clients that pad to the 300-byte BOOTP minimum send them.</summary>
    public int TrailingPad { get; init; }

    public static DhcpRequestBuilder Discover(MacAddress client, uint xid, bool broadcast = false)
        => new()
        {
            MessageType = DhcpMessageType.Discover,
            TransactionId = xid,
            ClientHardwareAddress = client,
            Flags = broadcast ? DhcpMessage.BroadcastFlag : (ushort)0,
        };

    /// <summary>A REQUEST in SELECTING state (RFC 2131 §4.3.2): ciaddr 0, options 50 and 54.</summary>
    public static DhcpRequestBuilder Request(MacAddress client, uint xid, uint requested, uint server)
        => new DhcpRequestBuilder
        {
            MessageType = DhcpMessageType.Request,
            TransactionId = xid,
            ClientHardwareAddress = client,
        }
        .WithAddress(DhcpOptionCode.RequestedAddress, requested)
        .WithAddress(DhcpOptionCode.ServerIdentifier, server);

    /// <summary>A RELEASE (RFC 2131 §4.4.6): ciaddr set, option 54, no option 50.</summary>
    public static DhcpRequestBuilder Release(MacAddress client, uint xid, uint address, uint server)
        => new DhcpRequestBuilder
        {
            MessageType = DhcpMessageType.Release,
            TransactionId = xid,
            ClientHardwareAddress = client,
            ClientAddress = address,
        }
        .WithAddress(DhcpOptionCode.ServerIdentifier, server);

    /// <summary>Adds an option after 53, in the order of the calls.</summary>
    public DhcpRequestBuilder With(byte code, params byte[] value)
    {
        _options.Add((code, value));
        return this;
    }

    public DhcpRequestBuilder WithAddress(byte code, uint address)
    {
        var value = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(value, address);
        return With(code, value);
    }

    public byte[] Build()
    {
        Span<byte> header = stackalloc byte[DhcpMessage.FixedHeaderLength];
        header.Clear();
        header[0] = Op;
        header[1] = HardwareType;
        header[2] = HardwareLength;
        header[3] = Hops;
        BinaryPrimitives.WriteUInt32BigEndian(header.Slice(4), TransactionId);
        BinaryPrimitives.WriteUInt16BigEndian(header.Slice(8), Seconds);
        BinaryPrimitives.WriteUInt16BigEndian(header.Slice(10), Flags);
        BinaryPrimitives.WriteUInt32BigEndian(header.Slice(12), ClientAddress);
        BinaryPrimitives.WriteUInt32BigEndian(header.Slice(24), RelayAddress);
        ClientHardwareAddress.Write(header.Slice(DhcpMessage.ClientHardwareAddressOffset));

        var bytes = new List<byte>(header.ToArray());
        Span<byte> cookie = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(cookie, DhcpMessage.MagicCookie);
        bytes.AddRange(cookie.ToArray());
        if (MessageType is { } type)
        {
            bytes.AddRange([DhcpOptionCode.MessageType, 1, (byte)type]);
        }

        foreach (var (code, value) in _options)
        {
            bytes.Add(code);
            if (code is not (DhcpOptionCode.Pad or DhcpOptionCode.End))
            {
                bytes.Add((byte)value.Length);
                bytes.AddRange(value);
            }
        }

        if (WriteEnd)
        {
            bytes.Add(DhcpOptionCode.End);
        }

        bytes.AddRange(new byte[TrailingPad]);
        return bytes.ToArray();
    }

    /// <summary>The options of a DHCP payload in order, Pad skipped, up to End: (code, value). For checking what a writer wrote.</summary>
    public static IReadOnlyList<(byte Code, byte[] Value)> Options(ReadOnlySpan<byte> payload) => Options(payload, out _);

    /// <summary><see cref="Options(ReadOnlySpan{byte})"/>, and where End is.</summary>
    public static IReadOnlyList<(byte Code, byte[] Value)> Options(ReadOnlySpan<byte> payload, out int endOffset)
    {
        var options = new List<(byte, byte[])>();
        int at = DhcpMessage.OptionsOffset;
        while (at < payload.Length && payload[at] != DhcpOptionCode.End)
        {
            if (payload[at] == DhcpOptionCode.Pad)
            {
                at++;
                continue;
            }

            int length = payload[at + 1];
            options.Add((payload[at], payload.Slice(at + 2, length).ToArray()));
            at += 2 + length;
        }

        Assert.True(at < payload.Length, "options have no End");
        endOffset = at;
        return options;
    }
}
