using System.Net;
using System.Net.Sockets;
using Fabric.HostAgent.Ports;
using Fabric.HostAgent.Wire;

namespace Fabric.HostAgent.Tests.Ports;

/// <summary>
/// The VTEP socket's batched receive (recvmmsg) on a real loopback socket: every queued datagram in
/// one call, with its length, bytes and outer source intact; an oversized one handed on empty.
/// </summary>
[Trait("Category", "Lab")]
public sealed class VtepSocketTests
{
    [Fact]
    public void Queued_datagrams_arrive_in_one_batch_with_their_bytes_lengths_and_sources()
    {
        int port = FreeUdpPort();
        using var vtep = VtepSocket.Open(IPAddress.Loopback, port);
        using var sender = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        sender.Bind(new IPEndPoint(IPAddress.Parse("127.0.0.2"), 0));
        var target = new IPEndPoint(IPAddress.Loopback, port);
        var sent = Enumerable.Range(0, 20).Select(i => Enumerable.Range(0, 60 + i * 70).Select(b => (byte)(b ^ i)).ToArray()).ToList();
        foreach (var datagram in sent)
        {
            sender.SendTo(datagram, target);
        }

        var batch = new FrameBatch(32);
        var received = new List<(byte[] Bytes, uint Source)>();
        var deadline = DateTime.UtcNow.AddSeconds(5);
        int calls = 0;
        while (received.Count < sent.Count && DateTime.UtcNow < deadline)
        {
            int n = vtep.Receive(batch);
            calls += n > 0 ? 1 : 0;
            for (int i = 0; i < n; i++)
            {
                received.Add((batch.FrameSpace(i)[..batch.Length(i)].ToArray(), batch.Source(i)));
            }
        }

        Assert.Equal(sent, received.Select(r => r.Bytes));
        Assert.All(received, r => Assert.Equal(Ipv4Address.Parse("127.0.0.2"), r.Source));
        Assert.Equal(1, calls); // all 20 were queued before the first call: one recvmmsg took them
    }

    [Fact]
    public void A_datagram_longer_than_a_slot_is_marked_oversized_and_the_next_one_arrives_intact()
    {
        int port = FreeUdpPort();
        using var vtep = VtepSocket.Open(IPAddress.Loopback, port);
        using var sender = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        var target = new IPEndPoint(IPAddress.Loopback, port);
        sender.SendTo(new byte[FrameBatch.DefaultMaxFrameLength + 100], target);
        sender.SendTo(new byte[] { 1, 2, 3 }, target);

        var batch = new FrameBatch(8);
        var lengths = new List<int>();
        var deadline = DateTime.UtcNow.AddSeconds(5);
        while (lengths.Count < 2 && DateTime.UtcNow < deadline)
        {
            int n = vtep.Receive(batch);
            for (int i = 0; i < n; i++)
            {
                lengths.Add(batch.Length(i));
            }
        }

        Assert.Equal([FrameBatch.Oversized, 3], lengths);
    }

    [Fact]
    public void With_nothing_queued_a_receive_returns_empty_after_a_short_wait()
    {
        using var vtep = VtepSocket.Open(IPAddress.Loopback, FreeUdpPort());
        var batch = new FrameBatch(4);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        Assert.Equal(0, vtep.Receive(batch));
        Assert.True(clock.ElapsedMilliseconds < 2000, "a receive with nothing queued must come back for the loop to see a stop");
    }

    [Fact]
    public void Batched_sends_on_the_raw_socket_and_batched_receives_arrive_and_allocate_nothing()
    {
        int port = FreeUdpPort();
        using var vtep = VtepSocket.Open(IPAddress.Loopback, port);
        uint loopback = Ipv4Address.Parse("127.0.0.1");
        var encapsulator = new VxlanEncapsulator(Fabric.Addressing.MacAddress.Zero, loopback, destinationPort: (ushort)port);
        var inner = new byte[100];
        var packet = new byte[VxlanEncapsulator.OverheadLength + inner.Length];
        Assert.True(encapsulator.TryEncapsulate(inner, new Fabric.Addressing.Vni(5001), Fabric.Addressing.MacAddress.Zero, loopback, 1, packet, out int written, out var reason), reason.ToString());
        var outer = packet.AsMemory(EthernetFrame.HeaderLength, written - EthernetFrame.HeaderLength);
        using var send = new SendBatch(BatchingOutput.Capacity, BatchingOutput.Capacity * 2048, vnetHeaders: false, addressed: true);
        var receive = new FrameBatch(ReceiveLoops.BatchSize, vtep.Coalesces ? FrameBatch.GsoMaxFrameLength : FrameBatch.DefaultMaxFrameLength);
        long received = 0;
        void Round()
        {
            for (int i = 0; i < 32; i++)
            {
                send.Add(outer.Span, VirtioNetHeader.None, loopback);
            }

            // No Assert.Equal inside the measured loop: xUnit's comparer allocates per call.
            int refused = vtep.Flush(send);
            if (refused != 0)
            {
                Assert.Fail($"the kernel refused {refused} of 32 datagrams");
            }

            long expected = received + 32;
            long deadline = System.Diagnostics.Stopwatch.GetTimestamp() + (5 * System.Diagnostics.Stopwatch.Frequency);
            while (received < expected)
            {
                if (System.Diagnostics.Stopwatch.GetTimestamp() > deadline)
                {
                    Assert.Fail($"{expected - received} datagram(s) did not arrive within 5 s");
                }

                int n = vtep.Receive(receive);
                for (int i = 0; i < n; i++)
                {
                    // With UDP GRO a message may hold several datagrams of the segment size.
                    int length = receive.Length(i), size = receive.SegmentSize(i);
                    received += size > 0 && size < length ? (length + size - 1) / size : 1;
                }
            }
        }

        for (int i = 0; i < 200; i++)
        {
            Round();
        }

        // A per-datagram allocation shows in every window; a one-off of the runtime in one only.
        var windows = new List<long>();
        for (int w = 0; w < 5 && (windows.Count == 0 || windows[^1] != 0); w++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < 100; i++)
            {
                Round();
            }

            windows.Add(GC.GetAllocatedBytesForCurrentThread() - before);
        }

        Assert.True(windows[^1] == 0, $"bytes allocated per window of 100 rounds x 32 datagrams: {string.Join(", ", windows)}");
        Assert.Equal((200 + (100 * windows.Count)) * 32, received);
    }

    private static int FreeUdpPort()
    {
        using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        probe.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)probe.LocalEndPoint!).Port;
    }
}
