using System.Buffers.Binary;
using Fabric.Addressing;
using Fabric.HostAgent.Ports;
using Fabric.HostAgent.Tests.Wire;
using Fabric.HostAgent.Wire;
using Fabric.Testing;

namespace Fabric.HostAgent.Tests.Ports;

/// <summary>
/// A veth pair in a network namespace of its own, an <see cref="AfPacketPort"/> on each end: what
/// one sends the other receives with its bytes, its offload header and its VLAN tag, a port never
/// receives what it sent itself, and neither receiving nor sending allocates. Removed always.
/// </summary>
public sealed class VethPair : IAsyncLifetime
{
    public string Namespace { get; } = $"fapt{Environment.ProcessId % 10000:D4}{Random.Shared.Next(1000):D3}";

    internal AfPacketPort A { get; private set; } = null!;

    internal AfPacketPort B { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        var created = await Shell.RunAsync("ip", ["netns", "add", Namespace], TimeSpan.FromSeconds(30));
        Assert.True(created.ExitCode == 0, created.Output);
        await Shell.CheckedAsync(Namespace, "ip link add name a mtu 1450 type veth peer name b mtu 1450 && ip link set dev a up && ip link set dev b up");
        (A, B) = NetworkNamespace.Run(Namespace, () => (AfPacketPort.Open("a"), AfPacketPort.Open("b")));
    }

    public async Task DisposeAsync()
    {
        A?.Dispose();
        B?.Dispose();
        await Shell.RunAsync("ip", ["netns", "del", Namespace], TimeSpan.FromSeconds(30));
    }
}

[Trait("Category", "Lab")]
public sealed class AfPacketPortTests(VethPair veth) : IClassFixture<VethPair>
{
    private static readonly MacAddress FromA = MacAddress.Parse("02:00:00:00:aa:01");
    private static readonly MacAddress ToB = MacAddress.Parse("02:00:00:00:bb:01");

    private static byte[] Frame(int payload, byte marker)
    {
        var frame = new byte[EthernetFrame.HeaderLength + payload];
        EthernetFrame.WriteHeader(frame, ToB, FromA, 0x88B5); // IEEE local experimental EtherType
        frame.AsSpan(EthernetFrame.HeaderLength).Fill(marker);
        return frame;
    }

    /// <summary>Receives on <paramref name="port"/> until a frame matching <paramref name="match"/> arrives (bounded).</summary>
    private static (byte[] Frame, VirtioNetHeader Offload) ReceiveMatching(AfPacketPort port, FrameBatch batch, Func<byte[], bool> match)
    {
        var deadline = DateTime.UtcNow.AddSeconds(5);
        while (DateTime.UtcNow < deadline)
        {
            int n = port.Receive(batch);
            for (int i = 0; i < n; i++)
            {
                var frame = batch.Slot(i).Slice(FrameBatch.Headroom, batch.Length(i)).ToArray();
                if (match(frame))
                {
                    return (frame, batch.Offload(i));
                }
            }
        }

        throw new TimeoutException("the frame did not arrive within 5 s");
    }

    [Fact]
    public void A_frame_sent_on_one_end_arrives_whole_at_the_other_and_never_back_at_its_sender()
    {
        var batch = new FrameBatch(8, veth.B.MaxFrameLength);
        byte[] sent = Frame(100, 0x11);

        Assert.True(veth.A.Send(sent, VirtioNetHeader.None));

        var (received, offload) = ReceiveMatching(veth.B, batch, f => f.AsSpan(EthernetFrame.HeaderLength).IndexOfAnyExcept((byte)0x11) < 0);
        Assert.Equal(sent, received);
        Assert.False(offload.HasWork);
        var own = new FrameBatch(8, veth.A.MaxFrameLength);
        var deadline = DateTime.UtcNow.AddMilliseconds(300);
        while (DateTime.UtcNow < deadline)
        {
            int n = veth.A.Receive(own);
            for (int i = 0; i < n; i++)
            {
                Assert.NotEqual(0x11, own.Slot(i)[FrameBatch.Headroom + EthernetFrame.HeaderLength]);
            }
        }
    }

    [Fact]
    public void A_tagged_frame_arrives_with_its_tag_in_place()
    {
        var batch = new FrameBatch(8, veth.B.MaxFrameLength);
        byte[] untagged = Frame(60, 0x22);
        var tagged = new byte[untagged.Length + VlanTagging.TagLength];
        Assert.True(VlanTagging.TryPush(untagged, tagged, new VlanTag(100), out _, out _));

        Assert.True(veth.A.Send(tagged, VirtioNetHeader.None));

        var (received, _) = ReceiveMatching(veth.B, batch, f => f.Length > 20 && f[^1] == 0x22);
        Assert.Equal(tagged, received);
    }

    [Fact]
    public void A_gso_super_frame_crosses_the_veth_whole_with_its_offload_header()
    {
        var batch = new FrameBatch(8, veth.B.MaxFrameLength);
        var (frame, offload) = OffloadTests.SuperFrame(ipv6: false, tcp: true, payload: 20_000, gsoSize: 1398);
        ToB.Write(frame);
        FromA.Write(frame.AsSpan(6));

        Assert.True(veth.A.Send(frame, offload));

        var (received, arrived) = ReceiveMatching(veth.B, batch, f => f.Length > 10_000);
        Assert.Equal(frame.Length, received.Length);
        Assert.Equal(VirtioNetHeader.GsoTcpV4, arrived.GsoKind);
        Assert.Equal(1398, arrived.GsoSize);
        Assert.True(arrived.NeedsChecksum);
        Assert.Equal(frame.AsSpan(offload.HeaderLength).ToArray(), received.AsSpan(arrived.HeaderLength).ToArray());
    }

    [Fact]
    public void Batched_sends_arrive_in_order_and_neither_sending_nor_receiving_allocates()
    {
        var receive = new FrameBatch(ReceiveLoops.BatchSize, veth.B.MaxFrameLength);
        using var send = new SendBatch(BatchingOutput.Capacity, 512 * 1024, vnetHeaders: true, addressed: false);
        byte[] frame = Frame(200, 0x33);
        int received = 0;
        void Round()
        {
            for (int i = 0; i < 32; i++)
            {
                BinaryPrimitives.WriteInt32BigEndian(frame.AsSpan(EthernetFrame.HeaderLength), received + i);
                send.Add(frame, VirtioNetHeader.None);
            }

            // No Assert.Equal inside the measured loop: xUnit's comparer allocates per call.
            int unsent = veth.A.Flush(send);
            if (unsent != 0)
            {
                Assert.Fail($"{unsent} frame(s) of the batch were not sent");
            }

            int expected = received + 32;
            while (received < expected)
            {
                int n = veth.B.Receive(receive);
                for (int i = 0; i < n; i++)
                {
                    var got = receive.Slot(i).Slice(FrameBatch.Headroom, receive.Length(i));
                    if (got.Length == frame.Length && got[^1] == 0x33)
                    {
                        if (BinaryPrimitives.ReadInt32BigEndian(got.Slice(EthernetFrame.HeaderLength)) != received)
                        {
                            Assert.Fail($"frame {received} arrived out of order");
                        }

                        received++;
                    }
                }
            }
        }

        var windows = AllocationWindows.Measure(Round);

        Assert.True(windows[^1] == 0, $"bytes allocated per window of 100 rounds × 32 frames: {string.Join(", ", windows)}");
        Assert.Equal(AllocationWindows.Rounds(windows) * 32, received);
    }

    [Fact]
    public void The_batching_output_sends_a_slots_frames_in_one_batch_without_allocating_and_counts_those_left_for_a_detached_port()
    {
        const int Slot = 5;
        var options = Microsoft.Extensions.Options.Options.Create(new Fabric.HostAgent.Configuration.AgentOptions { MaxPorts = 8 });
        var ports = new PortOutput(options);
        var counters = new Fabric.HostAgent.Forwarding.DataPlaneCounters(8);
        using var vtep = VtepSocket.Open(System.Net.IPAddress.Loopback, FreePorts.Udp());
        using var output = new BatchingOutput(ports, vtep, counters);
        ports.SetPort(Slot, veth.A);
        var receive = new FrameBatch(ReceiveLoops.BatchSize, veth.B.MaxFrameLength);
        byte[] frame = Frame(120, 0x44);
        int received = 0;
        void Round()
        {
            // What the pipeline does with one received batch: queue, then flush once.
            for (int i = 0; i < 16; i++)
            {
                BinaryPrimitives.WriteInt32BigEndian(frame.AsSpan(EthernetFrame.HeaderLength), received + i);
                if (!output.SendToPort(Slot, frame, VirtioNetHeader.None))
                {
                    Assert.Fail("a frame for an attached slot was refused");
                }
            }

            output.Flush();
            int expected = received + 16;
            while (received < expected)
            {
                int n = veth.B.Receive(receive);
                for (int i = 0; i < n; i++)
                {
                    var got = receive.Slot(i).Slice(FrameBatch.Headroom, receive.Length(i));
                    if (got.Length == frame.Length && got[^1] == 0x44)
                    {
                        if (BinaryPrimitives.ReadInt32BigEndian(got.Slice(EthernetFrame.HeaderLength)) != received)
                        {
                            Assert.Fail($"frame {received} arrived out of order");
                        }

                        received++;
                    }
                }
            }
        }

        var windows = AllocationWindows.Measure(Round);
        Assert.True(windows[^1] == 0, $"bytes allocated per window of 100 rounds × 16 frames: {string.Join(", ", windows)}");
        Assert.Equal(AllocationWindows.Rounds(windows) * 16, received);

        // Frames queued for a port that is detached before the flush are dropped and counted, not sent elsewhere.
        Assert.True(output.SendToPort(Slot, frame, VirtioNetHeader.None));
        Assert.True(output.SendToPort(Slot, frame, VirtioNetHeader.None));
        ports.SetPort(Slot, null);
        output.Flush();
        Assert.Equal(2, counters.Ports[Slot].DropsOf(Fabric.HostAgent.Forwarding.DataPlaneDrop.SendFailed));
        Assert.False(output.SendToPort(Slot, frame, VirtioNetHeader.None)); // a free slot refuses at once
        ports.SetPort(Slot, veth.A); // the fixture's port, for the other tests
    }
}
