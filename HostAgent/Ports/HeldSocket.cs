using System.Runtime.InteropServices;

namespace Fabric.HostAgent.Ports;

/// <summary>
/// A socket's descriptor held open for one system call: <see cref="SafeHandle.DangerousAddRef"/> on
/// entry, released on <see cref="Dispose"/>, so a Dispose on another thread (agent shutdown) cannot
/// close the descriptor, and the kernel hand its number to a new file, while the call uses it.
/// <see cref="IsOpen"/> is false when the socket was closed already. Use with <c>using</c>; allocates nothing.
/// </summary>
internal readonly ref struct HeldSocket
{
    private readonly SafeHandle? _handle;

    private HeldSocket(SafeHandle handle)
    {
        _handle = handle;
        Fd = (int)handle.DangerousGetHandle();
    }

    /// <summary>False when the socket was closed before the call: nothing may be done with <see cref="Fd"/>.</summary>
    public bool IsOpen => _handle is not null;

    /// <summary>The descriptor, valid until <see cref="Dispose"/> while <see cref="IsOpen"/>.</summary>
    public int Fd { get; }

    /// <summary>Holds <paramref name="handle"/>; the result is not open if the handle was closed.</summary>
    public static HeldSocket Hold(SafeHandle handle)
    {
        bool held = false;
        try
        {
            handle.DangerousAddRef(ref held);
        }
        catch (ObjectDisposedException)
        {
        }

        return held ? new HeldSocket(handle) : default;
    }

    public void Dispose() => _handle?.DangerousRelease();
}
