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

    [Theory]
    [InlineData(false)]
    [InlineData(true)] // with a GSO pool the 32 equal datagrams of one flow leave as a UDP GSO run
    public void Batched_sends_on_the_raw_socket_and_batched_receives_arrive_and_allocate_nothing(bool gsoPool)
    {
        int port = FreeUdpPort();
        var address = gsoPool ? UniqueLoopback() : IPAddress.Loopback;
        var range = new SourcePortRange(65400, 65401);
        using var vtep = VtepSocket.Open(address, port, gsoPool ? range : default);
        Assert.Equal(gsoPool ? 2 : 0, vtep.SegmentSocketCount);
        uint loopback = Ipv4Address.FromIPAddress(address);
        var encapsulator = new VxlanEncapsulator(Fabric.Addressing.MacAddress.Zero, loopback, destinationPort: (ushort)port, sourcePorts: gsoPool ? range : default);
        var inner = new byte[100];
        var packet = new byte[VxlanEncapsulator.OverheadLength + inner.Length];
        Assert.True(encapsulator.TryEncapsulate(inner, new Fabric.Addressing.Vni(5001), Fabric.Addressing.MacAddress.Zero, loopback, 1, packet, out int written, out var reason), reason.ToString());
        var outer = packet.AsMemory(EthernetFrame.HeaderLength, written - EthernetFrame.HeaderLength);
        using var send = new SendBatch(BatchingOutput.Capacity, BatchingOutput.Capacity * 2048, vnetHeaders: false, addressed: true);
        var receive = new FrameBatch(ReceiveLoops.BatchSize, vtep.Coalesces ? FrameBatch.GsoMaxFrameLength : FrameBatch.DefaultMaxFrameLength);
        long received = 0, joined = 0;
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
                    joined += size > 0 && size < length ? 1 : 0;
                }
            }
        }

        var windows = AllocationWindows.Measure(Round);

        Assert.True(windows[^1] == 0, $"bytes allocated per window of 100 rounds x 32 datagrams: {string.Join(", ", windows)}");
        Assert.Equal(AllocationWindows.Rounds(windows) * 32, received);
        if (gsoPool)
        {
            Assert.True(joined > 0, "no run arrived joined: the 32 equal datagrams did not leave as UDP GSO sends");
        }
    }

    /// <summary>A loopback address no other test uses, so the pool's ports there are free.</summary>
    private static IPAddress UniqueLoopback() => new([127, 77, (byte)Random.Shared.Next(1, 255), (byte)Random.Shared.Next(1, 255)]);

    [Fact]
    public void A_udp_gso_send_arrives_as_datagrams_of_the_segment_size_from_the_buckets_source_port()
    {
        int port = FreeUdpPort();
        var local = UniqueLoopback();
        var range = new SourcePortRange(65000, 65003);
        using var vtep = VtepSocket.Open(local, port, range);
        Assert.Equal(range, vtep.SegmentPorts);
        Assert.Equal(4, vtep.SegmentSocketCount);

        // A plain UDP socket (no GRO) at the remote "VTEP" on the same port number sees each datagram.
        var remote = new IPAddress([127, 78, local.GetAddressBytes()[2], local.GetAddressBytes()[3]]);
        using var receiver = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp) { ReceiveTimeout = 5000 };
        receiver.Bind(new IPEndPoint(remote, port));

        // 10 datagrams of 1,000 bytes and a last one of 300, each filled with its own index.
        byte[] train = [.. Enumerable.Range(0, 10).SelectMany(i => Enumerable.Repeat((byte)i, 1000)), .. Enumerable.Repeat((byte)10, 300)];
        Assert.True(vtep.CanSendSegmented(2));
        Assert.True(vtep.SendSegmented(Ipv4Address.FromIPAddress(remote), 2, train, 1000));

        var buffer = new byte[65536];
        EndPoint from = new IPEndPoint(IPAddress.Any, 0);
        for (int i = 0; i <= 10; i++)
        {
            int n = receiver.ReceiveFrom(buffer, ref from);
            Assert.Equal(i < 10 ? 1000 : 300, n);
            Assert.All(buffer[..n], b => Assert.Equal((byte)i, b));
            Assert.Equal(new IPEndPoint(local, 65002), from);
        }

        Assert.False(vtep.CanSendSegmented(4)); // outside the range
    }

    [Fact]
    public void A_flushed_run_of_one_flows_equal_datagrams_leaves_as_one_udp_gso_send_and_everything_keeps_its_order()
    {
        // Sender: a VTEP with a pool on 65200..65203; receiver: a VTEP (UDP GRO on) at another address.
        int port = FreeUdpPort();
        var local = UniqueLoopback();
        var remote = new IPAddress([127, 79, local.GetAddressBytes()[2], local.GetAddressBytes()[3]]);
        var range = new SourcePortRange(65200, 65203);
        using var sender = VtepSocket.Open(local, port, range);
        using var receiver = VtepSocket.Open(remote, port);
        Assert.True(receiver.Coalesces, "the kernel has UDP GRO");
        uint from = Ipv4Address.FromIPAddress(local), to = Ipv4Address.FromIPAddress(remote);
        var encapsulator = new VxlanEncapsulator(Fabric.Addressing.MacAddress.Zero, from, destinationPort: (ushort)port, sourcePorts: range);

        // Inner frames: flow A (10 × 600 bytes, then one of 300), one frame of flow B, flow A again (3 × 600).
        byte[] Inner(int length, byte flow, byte index)
        {
            var frame = new byte[length];
            frame[5] = flow; // destination MAC differs per flow, so the flow hash (and maybe the port) does
            frame[12] = 0x88;
            frame[13] = 0xB5; // an experimental EtherType: hashed on MACs and type only
            Array.Fill(frame, index, 14, length - 14);
            return frame;
        }

        var frames = new List<byte[]>();
        frames.AddRange(Enumerable.Range(0, 10).Select(i => Inner(600, 0xA, (byte)i)));
        frames.Add(Inner(300, 0xA, 10));
        frames.Add(Inner(600, 0xB, 11));
        frames.AddRange(Enumerable.Range(12, 3).Select(i => Inner(600, 0xA, (byte)i)));
        using var batch = new SendBatch(BatchingOutput.Capacity, 64 * 1024, vnetHeaders: false, addressed: true);
        var packet = new byte[2048];
        foreach (var inner in frames)
        {
            Assert.True(encapsulator.TryEncapsulate(inner, new Fabric.Addressing.Vni(5001), Fabric.Addressing.MacAddress.Zero, to, 1, packet, out int written, out var reason), reason.ToString());
            batch.Add(packet.AsSpan(EthernetFrame.HeaderLength, written - EthernetFrame.HeaderLength), VirtioNetHeader.None, to);
        }

        Assert.Equal(0, sender.Flush(batch));
        Assert.Equal(0, batch.Count);

        // Received in order; the first 11 datagrams (a GSO send) arrive joined in one message.
        var received = new List<byte[]>();
        var messages = new List<(int Length, int SegmentSize)>();
        var slots = new FrameBatch(ReceiveLoops.BatchSize, FrameBatch.GsoMaxFrameLength);
        var deadline = DateTime.UtcNow.AddSeconds(5);
        while (received.Count < frames.Count && DateTime.UtcNow < deadline)
        {
            int n = receiver.Receive(slots);
            for (int i = 0; i < n; i++)
            {
                int length = slots.Length(i), size = slots.SegmentSize(i);
                messages.Add((length, size));
                var bytes = slots.FrameSpace(i)[..length];
                for (int offset = 0; offset < length; offset += size > 0 ? size : length)
                {
                    received.Add(bytes.Slice(offset, Math.Min(size > 0 ? size : length, length - offset)).ToArray());
                }
            }
        }

        Assert.Equal(frames.Select(f => f.Length + VxlanHeader.Length), received.Select(r => r.Length));
        for (int i = 0; i < frames.Count; i++)
        {
            Assert.Equal(frames[i], received[i][VxlanHeader.Length..]);
        }

        Assert.Equal((10 * 608) + 308, messages[0].Length);
        Assert.Equal(608, messages[0].SegmentSize);
    }

    [Fact]
    public void Udp_gso_sends_allocate_nothing_and_a_taken_port_is_left_out_of_the_pool()
    {
        var local = UniqueLoopback();
        using var squatter = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        squatter.Bind(new IPEndPoint(local, 65101));
        int port = FreeUdpPort();
        using var vtep = VtepSocket.Open(local, port, new SourcePortRange(65100, 65102));
        Assert.Equal(2, vtep.SegmentSocketCount);
        Assert.True(vtep.CanSendSegmented(0));
        Assert.False(vtep.CanSendSegmented(1)); // its flows go the raw way
        Assert.True(vtep.CanSendSegmented(2));

        using var receiver = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        receiver.Bind(new IPEndPoint(IPAddress.Loopback, port));
        uint destination = Ipv4Address.Parse("127.0.0.1");
        var train = new byte[40 * 1400];
        var buffer = new byte[2048];
        int received = 0;
        void Round()
        {
            if (!vtep.SendSegmented(destination, 0, train, 1400))
            {
                Assert.Fail("the kernel refused a UDP GSO send");
            }

            while (receiver.Available > 0)
            {
                received += receiver.Receive(buffer) > 0 ? 1 : 0;
            }
        }

        var windows = AllocationWindows.Measure(Round);

        Assert.True(windows[^1] == 0, $"bytes allocated per window of 100 sends: {string.Join(", ", windows)}");
        Assert.True(received > 0, "nothing arrived");
    }

    [Fact]
    public void After_the_vtep_is_closed_sends_are_refused_and_counted_and_receives_come_back_empty()
    {
        // Agent shutdown: the sockets close while receive threads may still flush or receive.
        int port = FreeUdpPort();
        var vtep = VtepSocket.Open(UniqueLoopback(), port, new SourcePortRange(65300, 65301));
        using var batch = new SendBatch(BatchingOutput.Capacity, 64 * 1024, vnetHeaders: false, addressed: true);
        var packet = new byte[28 + 100];
        packet[0] = 0x45;
        for (int i = 0; i < 3; i++)
        {
            batch.Add(packet, VirtioNetHeader.None, Ipv4Address.Parse("127.0.0.1"));
        }

        vtep.Dispose();

        Assert.Equal(3, vtep.Flush(batch)); // all three refused, none sent
        Assert.Equal(0, batch.Count);
        Assert.False(vtep.SendSegmented(Ipv4Address.Parse("127.0.0.1"), 0, new byte[2000], 1000));
        Assert.Equal(0, vtep.Receive(new FrameBatch(4)));
    }

    private static int FreeUdpPort()
    {
        using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        probe.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)probe.LocalEndPoint!).Port;
    }
}
