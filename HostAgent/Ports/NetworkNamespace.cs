using Microsoft.Win32.SafeHandles;

namespace Fabric.HostAgent.Ports;

/// <summary>
/// Runs code inside a named network namespace (/run/netns/NAME), on a thread of its own that
/// enters the namespace and leaves with it. Sockets and capture handles opened there stay bound to
/// that namespace's interfaces, while the rest of the process (the Orleans client) stays where it is.
/// </summary>
internal static class NetworkNamespace
{
    public static T Run<T>(string? name, Func<T> action)
    {
        if (string.IsNullOrEmpty(name))
        {
            return action();
        }

        T result = default!;
        Exception? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                using var target = File.OpenHandle(Path.Combine("/run/netns", name), FileMode.Open, FileAccess.Read);
                Enter(target, name);
                result = action();
            }
            catch (Exception ex)
            {
                failure = ex;
            }
        })
        {
            IsBackground = true,
            Name = $"netns {name}",
        };
        thread.Start();
        thread.Join();
        if (failure is not null)
        {
            throw new InvalidOperationException($"in network namespace '{name}': {failure.Message}", failure);
        }

        return result;
    }

    private static void Enter(SafeFileHandle handle, string name)
    {
        if (LinuxNative.SetNs((int)handle.DangerousGetHandle(), LinuxNative.CloneNewNet) != 0)
        {
            throw new IOException($"setns into network namespace '{name}' failed (errno {System.Runtime.InteropServices.Marshal.GetLastPInvokeError()}); the agent must run as root.");
        }
    }
}
