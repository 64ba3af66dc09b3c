using Fabric.Grains;
using Fabric.HostAgent.Forwarding;

namespace Fabric.HostAgent.Mirroring;

/// <summary>Where a mirror's copies go: a local capture (<see cref="CaptureRing"/>) or a collector (<see cref="RemoteMirror"/>).</summary>
internal abstract class MirrorSink
{
    /// <summary>Data plane: takes a copy of <paramref name="frame"/> (no allocation, no lock, no wait).</summary>
    public abstract void Copy(DataPlane dataPlane, ReadOnlySpan<byte> frame, ForwardingScratch scratch);
}

/// <summary>A remote mirror session of this host as the tables carry it: the port's slot, the direction and the session.</summary>
internal sealed record RemoteMirrorSpec(int Slot, MirrorDirection Direction, MirrorSession Session);

/// <summary>
/// The mirrors active on this host, published copy-on-write to the data plane (<see cref="DataPlane.Mirrors"/>):
/// per port slot, the sinks that copy what it sends and what it receives. The data plane reads one
/// field per frame and finds null while no mirror is active: an idle mirror costs a load and a branch.
/// </summary>
internal sealed class MirrorSet
{
    private MirrorSet(MirrorSink[]?[] ingress, MirrorSink[]?[] egress)
    {
        Ingress = ingress;
        Egress = egress;
    }

    /// <summary>Per port slot: the sinks mirroring what the port sends into the switch; null for none.</summary>
    public MirrorSink[]?[] Ingress { get; }

    /// <summary>Per port slot: the sinks mirroring what the switch delivers to the port; null for none.</summary>
    public MirrorSink[]?[] Egress { get; }

    /// <summary>The set for <paramref name="sessions"/> (slot, direction, sink) on <paramref name="ports"/> slots; null when there are none.</summary>
    public static MirrorSet? Of(int ports, IEnumerable<(int Slot, MirrorDirection Direction, MirrorSink Sink)> sessions)
    {
        var ingress = new List<MirrorSink>?[ports];
        var egress = new List<MirrorSink>?[ports];
        bool any = false;
        foreach (var (slot, direction, sink) in sessions)
        {
            if ((uint)slot >= (uint)ports)
            {
                continue;
            }

            if ((direction & MirrorDirection.In) != 0)
            {
                (ingress[slot] ??= []).Add(sink);
            }

            if ((direction & MirrorDirection.Out) != 0)
            {
                (egress[slot] ??= []).Add(sink);
            }

            any = true;
        }

        return any ? new MirrorSet([.. ingress.Select(l => l?.ToArray())], [.. egress.Select(l => l?.ToArray())]) : null;
    }

    /// <summary>Data plane: a copy of <paramref name="frame"/> to every sink in <paramref name="sinks"/>.</summary>
    public static void Copy(MirrorSink[]? sinks, DataPlane dataPlane, ReadOnlySpan<byte> frame, ForwardingScratch scratch)
    {
        if (sinks is null)
        {
            return;
        }

        foreach (var sink in sinks)
        {
            sink.Copy(dataPlane, frame, scratch);
        }
    }
}
