using Fabric.Grains;
using Fabric.HostAgent.Forwarding;

namespace Fabric.HostAgent.Mirroring;

/// <summary>
/// A remote mirror session of this host (<see cref="MirrorSession"/>): each copy is encapsulated to
/// the collector by the data plane (<see cref="DataPlane.SendMirrorCopy"/>) and sent through the
/// underlay's raw socket with the rest of the receive thread's batch. Its sequence number (ERSPAN's
/// GRE sequence, RFC 2890 §2.2) lives here, so a session that does not change keeps counting.
/// </summary>
internal sealed class RemoteMirror(MirrorSession session, int vxlanPort) : MirrorSink
{
    private int _sequence;
    private long _sent;
    private long _failed;

    /// <summary>The session as configured.</summary>
    public MirrorSession Session { get; } = session;

    /// <summary>The collector, with its socket address built once.</summary>
    public RemoteVtep Collector { get; } = new(Wire.Ipv4Address.FromIPAddress(session.Destination), vxlanPort);

    /// <summary>Copies sent.</summary>
    public long Sent => Volatile.Read(ref _sent);

    /// <summary>Copies the kernel refused (or that could not be encapsulated).</summary>
    public long Failed => Volatile.Read(ref _failed);

    /// <summary>The next GRE sequence number.</summary>
    public uint NextSequence() => (uint)Interlocked.Increment(ref _sequence);

    /// <summary>Counts a copy sent (true) or refused (false).</summary>
    public void Count(bool sent)
    {
        if (sent)
        {
            Interlocked.Increment(ref _sent);
        }
        else
        {
            Interlocked.Increment(ref _failed);
        }
    }

    /// <inheritdoc />
    public override void Copy(DataPlane dataPlane, ReadOnlySpan<byte> frame, ForwardingScratch scratch) => dataPlane.SendMirrorCopy(this, frame, scratch);
}
