namespace Fabric.HostAgent.Mirroring;

/// <summary>Which frames of a port a mirror copies (vSphere Distributed Switch port mirroring's directions).</summary>
internal enum MirrorDirection
{
    /// <summary>What the port sends into the switch (the VM's transmit).</summary>
    In = 1,

    /// <summary>What the switch delivers to the port (the VM's receive).</summary>
    Out = 2,

    /// <summary>Both.</summary>
    Both = In | Out,
}

/// <summary>
/// The mirrors active on this host, published copy-on-write to the data plane (<see cref="Forwarding.DataPlane.Mirrors"/>):
/// per port slot, the rings that copy what it sends and what it receives. The data plane reads one
/// field per frame and finds null while no mirror is active: an idle mirror costs a load and a branch.
/// </summary>
internal sealed class MirrorSet
{
    private MirrorSet(CaptureRing[]?[] ingress, CaptureRing[]?[] egress)
    {
        Ingress = ingress;
        Egress = egress;
    }

    /// <summary>Per port slot: the rings mirroring what the port sends into the switch; null for none.</summary>
    public CaptureRing[]?[] Ingress { get; }

    /// <summary>Per port slot: the rings mirroring what the switch delivers to the port; null for none.</summary>
    public CaptureRing[]?[] Egress { get; }

    /// <summary>The set for <paramref name="sessions"/> (slot, direction, ring) on <paramref name="ports"/> slots; null when there are none.</summary>
    public static MirrorSet? Of(int ports, IEnumerable<(int Slot, MirrorDirection Direction, CaptureRing Ring)> sessions)
    {
        var ingress = new List<CaptureRing>?[ports];
        var egress = new List<CaptureRing>?[ports];
        bool any = false;
        foreach (var (slot, direction, ring) in sessions)
        {
            if ((uint)slot >= (uint)ports)
            {
                continue;
            }

            if (direction.HasFlag(MirrorDirection.In))
            {
                (ingress[slot] ??= []).Add(ring);
            }

            if (direction.HasFlag(MirrorDirection.Out))
            {
                (egress[slot] ??= []).Add(ring);
            }

            any = true;
        }

        return any ? new MirrorSet([.. ingress.Select(l => l?.ToArray())], [.. egress.Select(l => l?.ToArray())]) : null;
    }

    /// <summary>Data plane: copies <paramref name="frame"/> to every ring in <paramref name="rings"/>.</summary>
    public static void Copy(CaptureRing[]? rings, ReadOnlySpan<byte> frame)
    {
        if (rings is null)
        {
            return;
        }

        foreach (var ring in rings)
        {
            ring.Write(frame);
        }
    }
}
