using Fabric.HostAgent.Wire;

namespace Fabric.HostAgent.Ports;

/// <summary>
/// Frames received in one call, each in its own slot with headroom in front, so the data plane can
/// write the 50-byte VXLAN overhead (or an 802.1Q tag) before the frame without copying it, and with
/// the offloads each frame still needs (<see cref="VirtioNetHeader"/>, from backends that carry them).
/// </summary>
internal sealed class FrameBatch
{
    /// <summary>Room before each frame: outer Ethernet + IPv4 + UDP + VXLAN (50) rounded up.</summary>
    public const int Headroom = 64;

    /// <summary>Largest frame a default slot holds: a 9216-byte jumbo frame plus an 802.1Q tag, with margin.</summary>
    public const int DefaultMaxFrameLength = 9600;

    /// <summary>Largest frame a slot for GSO super-frames holds: 64 KiB of IP packet plus L2 headers and a tag.</summary>
    public const int GsoMaxFrameLength = 65536 + 32;

    /// <summary>The length of a datagram that did not fit in its slot (it arrived cut short).</summary>
    public const int Oversized = -1;

    private readonly int[] _lengths;
    private readonly uint[] _sources;
    private readonly int[] _starts;
    private readonly int[] _segmentSizes;
    private readonly VirtioNetHeader[] _offloads;

    /// <param name="capacity">Slots (frames per receive call).</param>
    /// <param name="maxFrameLength">Bytes a slot holds after its headroom; defaults to <see cref="DefaultMaxFrameLength"/>.</param>
    public FrameBatch(int capacity, int maxFrameLength = DefaultMaxFrameLength)
    {
        Capacity = capacity;
        MaxFrameLength = maxFrameLength;
        SlotLength = Headroom + SpareLength + maxFrameLength;

        // Pinned: a backend may hand the slots to the kernel (recvmmsg) by address.
        Buffer = GC.AllocateArray<byte>(capacity * SlotLength, pinned: true);
        _lengths = new int[capacity];
        _sources = new uint[capacity];
        _starts = new int[capacity];
        _segmentSizes = new int[capacity];
        _offloads = new VirtioNetHeader[capacity];
    }

    /// <summary>
    /// Spare bytes after the headroom of every slot, so a backend can write a frame 4 bytes later and
    /// put an 802.1Q tag the kernel took out of band (VLAN acceleration) back in front of it without
    /// moving the frame; see <see cref="SetStart"/>.
    /// </summary>
    public const int SpareLength = 4;

    public int Capacity { get; }

    /// <summary>Bytes a slot holds after its headroom.</summary>
    public int MaxFrameLength { get; }

    /// <summary>Headroom plus <see cref="MaxFrameLength"/>.</summary>
    public int SlotLength { get; }

    public int Count { get; set; }

    public byte[] Buffer { get; }

    /// <summary>Slot i as the pipeline sees it: <see cref="Headroom"/> bytes, then the frame.</summary>
    public Span<byte> Slot(int i) => Buffer.AsSpan(i * SlotLength + _starts[i], SlotLength - _starts[i]);

    /// <summary>Where a backend writes frame i, unless it sets another start.</summary>
    public Span<byte> FrameSpace(int i) => Buffer.AsSpan(i * SlotLength + Headroom, MaxFrameLength);

    /// <summary>
    /// Frame i begins <paramref name="start"/> bytes (0..<see cref="SpareLength"/>) later than in
    /// <see cref="FrameSpace"/>: the slot the pipeline sees moves with it, so the frame is still at its headroom.
    /// </summary>
    public void SetStart(int i, int start) => _starts[i] = start;

    /// <summary>
    /// For datagrams the kernel joined (UDP GRO): each is this many bytes, the last maybe fewer;
    /// 0 when slot i holds one datagram.
    /// </summary>
    public int SegmentSize(int i) => _segmentSizes[i];

    /// <summary>Sets <see cref="SegmentSize"/> of slot i.</summary>
    public void SetSegmentSize(int i, int size) => _segmentSizes[i] = size;

    public int Length(int i) => _lengths[i];

    /// <summary>For datagrams: the outer IPv4 source of datagram i.</summary>
    public uint Source(int i) => _sources[i];

    /// <summary>The offloads frame i still needs (<see cref="VirtioNetHeader.None"/> from backends without them).</summary>
    public ref readonly VirtioNetHeader Offload(int i) => ref _offloads[i];

    public void Set(int i, int length, uint source = 0)
    {
        _lengths[i] = length;
        _sources[i] = source;
        _starts[i] = 0;
        _segmentSizes[i] = 0;
        _offloads[i] = default;
    }

    /// <summary>Frame i, with the offloads it still needs.</summary>
    public void Set(int i, int length, in VirtioNetHeader offload, int start = 0)
    {
        _lengths[i] = length;
        _sources[i] = 0;
        _starts[i] = start;
        _segmentSizes[i] = 0;
        _offloads[i] = offload;
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
    /// Whether frames come with and may go out with their offloads left undone (a
    /// <see cref="VirtioNetHeader"/>: partial checksums, GSO super-frames). A port that does not
    /// carries finished frames only: the pipeline completes checksums and segments before sending to it.
    /// </summary>
    bool CarriesOffloads { get; }

    /// <summary>How large a received frame may be: the slot size a <see cref="FrameBatch"/> for this port needs.</summary>
    int MaxFrameLength { get; }

    /// <summary>
    /// Fills <paramref name="batch"/> with received frames, waiting at most a short poll interval
    /// for the first; returns how many (0 on timeout). Only frames arriving from the wire or the VM,
    /// never frames this port injected.
    /// </summary>
    int Receive(FrameBatch batch);

    /// <summary>
    /// Injects one frame with the offloads still to do (<see cref="VirtioNetHeader.None"/> for a
    /// finished frame; anything else only where <see cref="CarriesOffloads"/>); false if the kernel refused it.
    /// </summary>
    bool Send(ReadOnlySpan<byte> frame, in VirtioNetHeader offload);
}
