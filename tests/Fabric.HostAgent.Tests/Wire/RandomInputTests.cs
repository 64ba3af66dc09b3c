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
    }

    private static void Check(bool ok, DropReason reason)
    {
        if (ok != (reason == DropReason.None))
        {
            Assert.Fail($"result {ok} disagrees with reason {reason}");
        }
    }
}
