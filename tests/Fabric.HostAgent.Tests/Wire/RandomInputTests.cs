using Fabric.Addressing;
using Fabric.HostAgent.Wire;
using static Fabric.HostAgent.Tests.Wire.TestFrames;

namespace Fabric.HostAgent.Tests.Wire;

/// <summary>Random and mutated input: decoders answer true or false with a reason, never throw.</summary>
[Trait("Category", "Unit")]
public sealed class RandomInputTests
{
    private const int Iterations = 200_000;

    [Fact]
    public void Random_bytes_never_make_a_decoder_throw()
    {
        var random = new Random(7348);
        var buffer = new byte[256];
        for (int i = 0; i < Iterations; i++)
        {
            int length = random.Next(buffer.Length + 1);
            Span<byte> bytes = buffer.AsSpan(0, length);
            random.NextBytes(bytes);

            // Bias a third of the inputs towards plausible headers so the deeper checks run too.
            if (i % 3 == 0 && length >= 16)
            {
                bytes[12] = 0x08;
                bytes[13] = 0x00;
                bytes[14] = (byte)(0x45 + random.Next(3));
            }

            DecodeEverything(bytes);
        }
    }

    [Fact]
    public void Mutated_valid_frames_never_make_a_decoder_throw_and_accepted_ones_are_consistent()
    {
        var random = new Random(826);
        byte[][] seeds =
        [
            Encapsulate(ArpRequest(HostA, 0x0A0A0A01, 0x0A0A0A02)),
            Encapsulate(UdpFrame(HostB, HostA, 1, 2, 1000, 2000, tag: VlanTag.Create(new VlanId(5))), computeUdpChecksum: true),
        ];
        var buffer = new byte[512];
        int accepted = 0;
        for (int i = 0; i < Iterations; i++)
        {
            byte[] seed = seeds[i % seeds.Length];
            int length = random.Next(4) == 0 ? random.Next(seed.Length + 1) : seed.Length;
            seed.AsSpan(0, length).CopyTo(buffer);
            for (int flips = random.Next(1, 4); flips > 0 && length > 0; flips--)
            {
                buffer[random.Next(length)] = (byte)random.Next(256);
            }

            Span<byte> bytes = buffer.AsSpan(0, length);
            DecodeEverything(bytes);
            if (VxlanDecapsulator.TryDecapsulateFrame(bytes, out var packet, out var reason))
            {
                accepted++;
                Assert.Equal(DropReason.None, reason);
                Assert.True(packet.InnerFrame.Length >= EthernetFrame.HeaderLength);
                Assert.True(Vni.IsValid(packet.Vni.Value));
            }
            else
            {
                Assert.NotEqual(DropReason.None, reason);
            }
        }

        // Flips in the inner frame or reserved bits still decapsulate: the test exercised both outcomes.
        Assert.InRange(accepted, 1, Iterations - 1);
    }

    [Fact]
    public void Mutated_dhcp_payloads_never_make_the_parser_throw_and_accepted_ones_are_consistent()
    {
        var random = new Random(2131);
        byte[][] seeds =
        [
            DhcpRequestBuilder.Discover(HostA, 0x01020304, broadcast: true)
                .With(DhcpOptionCode.ClientIdentifier, 1, 2, 0, 0, 0, 0, 0x0a)
                .With(DhcpOptionCode.HostName, "vm-a"u8.ToArray())
                .Build(),
            DhcpRequestBuilder.Request(HostB, 7, 0x0A01_0017, 0x0A01_0001).With(55, 1, 3, 6).Build(),
            DhcpRequestBuilder.Release(HostA, 8, 0x0A01_0017, 0x0A01_0001).Build(),
        ];
        var buffer = new byte[512];
        int accepted = 0;
        for (int i = 0; i < Iterations; i++)
        {
            byte[] seed = seeds[i % seeds.Length];
            int length = random.Next(8) switch
            {
                0 => random.Next(seed.Length + 1),                   // cut short
                1 => seed.Length + random.Next(buffer.Length - seed.Length), // random bytes after the seed
                _ => seed.Length,
            };
            random.NextBytes(buffer.AsSpan(seed.Length));
            seed.AsSpan(0, Math.Min(length, seed.Length)).CopyTo(buffer);
            for (int flips = random.Next(1, 4); flips > 0 && length > 0; flips--)
            {
                // Mostly in the options, where the parser has the most to get wrong.
                int at = random.Next(2) == 0 && length > DhcpMessage.OptionsOffset
                    ? random.Next(DhcpMessage.OptionsOffset, length)
                    : random.Next(length);
                buffer[at] = (byte)random.Next(256);
            }

            Span<byte> bytes = buffer.AsSpan(0, length);
            if (DhcpMessage.TryRead(bytes, out var message, out var reason))
            {
                accepted++;
                Assert.Equal(DropReason.None, reason);
                Assert.InRange((byte)message.MessageType, (byte)DhcpMessageType.Discover, (byte)DhcpMessageType.Inform);
                Assert.Equal(DhcpMessage.HardwareTypeEthernet, message.HardwareType);
                Assert.Equal(6, message.HardwareLength);
                Assert.NotEqual(1, message.ClientIdentifier.Length);
                _ = message.ClientHardwareAddress.Value + (ulong)message.HostName.Length + message.RelayAddress + message.LeaseTime;
            }
            else
            {
                Assert.NotEqual(DropReason.None, reason);
            }
        }

        Assert.InRange(accepted, 1, Iterations - 1);
    }

    [Fact]
    public void Random_reply_fields_never_make_the_dhcp_writer_throw_and_what_it_writes_reads_back()
    {
        var random = new Random(1542);
        var buffer = new byte[DhcpReply.MaxFrameLength + 16];
        var dns = new uint[DhcpReply.MaxDnsServers + 2];
        int written = 0;
        for (int i = 0; i < Iterations / 10; i++)
        {
            for (int d = 0; d < dns.Length; d++)
            {
                dns[d] = (uint)random.NextInt64(1L << 32);
            }

            var fields = new DhcpReplyFields
            {
                DestinationMac = new MacAddress((ulong)random.NextInt64(1L << 48)),
                SourceMac = new MacAddress((ulong)random.NextInt64(1L << 48)),
                SourceAddress = RandomUInt32(random),
                DestinationAddress = RandomUInt32(random),
                Identification = (ushort)random.Next(65536),
                MessageType = (DhcpMessageType)random.Next(10),
                TransactionId = RandomUInt32(random),
                Flags = (ushort)random.Next(65536),
                ClientAddress = RandomUInt32(random),
                YourAddress = RandomUInt32(random),
                NextServerAddress = RandomUInt32(random),
                RelayAddress = random.Next(4) == 0 ? RandomUInt32(random) : 0,
                ClientHardwareAddress = new MacAddress((ulong)random.NextInt64(1L << 48)),
                ServerIdentifier = RandomUInt32(random),
                LeaseSeconds = random.Next(3) switch { 0 => 0, 1 => uint.MaxValue, _ => RandomUInt32(random) },
                SubnetMask = random.Next(2) == 0 ? 0 : RandomUInt32(random),
                Router = random.Next(2) == 0 ? 0 : RandomUInt32(random),
                DnsServers = dns.AsSpan(0, random.Next(dns.Length + 1)),
                InterfaceMtu = (ushort)(random.Next(2) == 0 ? 0 : random.Next(65536)),
            };
            Span<byte> destination = buffer.AsSpan(0, random.Next(buffer.Length + 1));
            int length = DhcpReply.Write(destination, fields);
            if (length == 0)
            {
                continue;
            }

            written++;
            Assert.InRange(length, DhcpReply.HeadersLength + DhcpReply.MinBootpLength, Math.Min(destination.Length, DhcpReply.MaxFrameLength));
            Assert.True(EthernetFrame.TryParse(destination.Slice(0, length), out var eth, out _));
            Assert.True(Ipv4Packet.TryParse(eth.Payload, out var ip, out _));
            Assert.True(UdpDatagram.TryParse(ip.Payload, out var udp, out _));
            Assert.True(udp.ChecksumIsValid(fields.SourceAddress, fields.DestinationAddress));
            Assert.True(DhcpMessage.TryRead(udp.Payload, out var message, out var reason), reason.ToString());
            Assert.Equal(fields.MessageType, message.MessageType);
            Assert.Equal(fields.TransactionId, message.TransactionId);
            Assert.Equal(fields.ServerIdentifier, message.ServerIdentifier);
        }

        Assert.InRange(written, 1, (Iterations / 10) - 1);
    }

    private static uint RandomUInt32(Random random) => (uint)random.NextInt64(1L << 32);

    private static void DecodeEverything(ReadOnlySpan<byte> bytes)
    {
        Check(EthernetFrame.TryParse(bytes, out var eth, out var reason), reason);
        if (eth.Frame.Length > 0)
        {
            _ = eth.Destination;
            _ = eth.Source;
            _ = eth.Payload.Length;
        }

        Check(ArpPacket.TryRead(bytes, out _, out reason), reason);
        Check(Ipv4Packet.TryParse(bytes, out var ip, out reason), reason);
        if (ip.Packet.Length > 0)
        {
            _ = ip.Options.Length + ip.Payload.Length + ip.Source + ip.Destination + ip.FragmentOffset;
        }

        Check(Ipv4Packet.TryParse(bytes, out _, out reason, verifyChecksum: false), reason);
        Check(UdpDatagram.TryParse(bytes, out var udp, out reason), reason);
        if (udp.Datagram.Length > 0)
        {
            _ = udp.ChecksumIsValid(1, 2);
        }

        Check(VxlanHeader.TryRead(bytes, out _, out reason), reason);
        Check(VxlanDecapsulator.TryDecapsulate(bytes, out _, out _, out reason), reason);
        Check(VxlanDecapsulator.TryDecapsulateFrame(bytes, out _, out reason), reason);
        _ = FlowHash.SourcePort(bytes);
        Span<byte> scratch = stackalloc byte[300];
        Check(VlanTagging.TryPush(bytes, scratch, new VlanTag(0x0123), out _, out reason), reason);
        Check(VlanTagging.TryPop(bytes, scratch, out _, out _, out reason), reason);
        Check(DhcpMessage.TryRead(bytes, out var dhcp, out reason), reason);
        if (dhcp.Payload.Length > 0)
        {
            _ = dhcp.ClientHardwareAddress.Value + (ulong)(dhcp.ClientIdentifier.Length + dhcp.HostName.Length) + dhcp.TransactionId;
        }
    }

    private static void Check(bool ok, DropReason reason)
    {
        if (ok != (reason == DropReason.None))
        {
            Assert.Fail($"result {ok} disagrees with reason {reason}");
        }
    }
}
