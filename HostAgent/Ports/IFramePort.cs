namespace Fabric.HostAgent.Ports;

/// <summary>
/// Frames received in one call, each in its own slot with headroom in front, so the data plane can
/// write the 50-byte VXLAN overhead (or an 802.1Q tag) before the frame without copying it.
/// </summary>
internal sealed class FrameBatch
{
    /// <summary>Room before each frame: outer Ethernet + IPv4 + UDP + VXLAN (50) rounded up.</summary>
    public const int Headroom = 64;

    /// <summary>Largest frame a slot holds: a 9216-byte jumbo frame plus an 802.1Q tag, with margin.</summary>
    public const int MaxFrameLength = 9600;

    public const int SlotLength = Headroom + MaxFrameLength;

    /// <summary>The length of a datagram that did not fit in its slot (it arrived cut short).</summary>
    public const int Oversized = -1;

    private readonly int[] _lengths;
    private readonly uint[] _sources;

    public FrameBatch(int capacity)
    {
        Capacity = capacity;
        // Pinned: a backend may hand the slots to the kernel (recvmmsg) by address.
        Buffer = GC.AllocateArray<byte>(capacity * SlotLength, pinned: true);
        _lengths = new int[capacity];
        _sources = new uint[capacity];
    }

    public int Capacity { get; }

    public int Count { get; set; }

    public byte[] Buffer { get; }

    /// <summary>The whole slot i: headroom followed by room for the frame.</summary>
    public Span<byte> Slot(int i) => Buffer.AsSpan(i * SlotLength, SlotLength);

    /// <summary>Where a backend writes frame i.</summary>
    public Span<byte> FrameSpace(int i) => Buffer.AsSpan(i * SlotLength + Headroom, MaxFrameLength);

    public int Length(int i) => _lengths[i];

    /// <summary>For datagrams: the outer IPv4 source of datagram i.</summary>
    public uint Source(int i) => _sources[i];

    public void Set(int i, int length, uint source = 0)
    {
        _lengths[i] = length;
        _sources[i] = source;
    }
}

/// <summary>
/// A local port: an interface that VM frames are captured from and injected into. Backends
/// (libpcap through SharpPcap today; AF_PACKET rings, TAP later) receive and send in batches so a
/// faster one can replace another without touching forwarding.
/// </summary>
internal interface IFramePort : IDisposable
{
    string Name { get; }

    /// <summary>
    /// Fills <paramref name="batch"/> with received frames, waiting at most a short poll interval
    /// for the first; returns how many (0 on timeout). Only frames arriving from the wire or the VM,
    /// never frames this port injected.
    /// </summary>
    int Receive(FrameBatch batch);

    /// <summary>Injects one frame; false if the kernel refused it.</summary>
    bool Send(ReadOnlySpan<byte> frame);
}
