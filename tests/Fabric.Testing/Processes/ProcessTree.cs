using System.Globalization;
using System.Runtime.InteropServices;

namespace Fabric.Testing;

/// <summary>Signal numbers on Linux (x86-64 and arm64).</summary>
public static class Signals
{
    /// <summary>SIGINT: what Ctrl-C sends; tshark and ping finish their output on it.</summary>
    public const int Interrupt = 2;

    /// <summary>SIGKILL: ends a process at once, like a crash; it cannot be caught.</summary>
    public const int Kill = 9;

    /// <summary>SIGTERM: a request to stop gracefully (a .NET host stops only if it observes its stopping token).</summary>
    public const int Terminate = 15;

    /// <summary>SIGCONT: resumes a paused process.</summary>
    public const int Continue = 18;

    /// <summary>SIGSTOP: pauses a process (it cannot be caught), e.g. to take storage away.</summary>
    public const int Stop = 19;
}

/// <summary>
/// A process and its descendants, found through /proc and signalled by PID. Each member is known by
/// its PID and start time, so a PID the kernel has since given to another process is never signalled.
/// </summary>
internal static partial class ProcessTree
{
    /// <summary>The process and every descendant alive now, the process first.</summary>
    public static IReadOnlyList<(int Pid, long Start)> Of(int root)
    {
        if (StartTime(root) is not { } rootStart)
        {
            return [];
        }

        var children = new Dictionary<int, List<(int, long)>>();
        foreach (string dir in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out int pid) && Stat(pid) is { } stat)
            {
                if (!children.TryGetValue(stat.Parent, out var list))
                {
                    children[stat.Parent] = list = [];
                }

                list.Add((pid, stat.Start));
            }
        }

        var tree = new List<(int Pid, long Start)> { (root, rootStart) };
        for (int i = 0; i < tree.Count; i++)
        {
            if (children.TryGetValue(tree[i].Pid, out var list))
            {
                tree.AddRange(list.Where(c => !tree.Contains(c)));
            }
        }

        return tree;
    }

    /// <summary>
    /// SIGKILL to the process and all its descendants. They are paused first (SIGSTOP), the tree
    /// walked again until it no longer grows, so nothing forks its way out while the tree is killed.
    /// </summary>
    public static void Kill(int root)
    {
        var members = new List<(int Pid, long Start)>();
        for (int round = 0; round < 5; round++)
        {
            var now = Of(root);
            var added = now.Where(m => !members.Contains(m)).ToList();
            if (added.Count == 0)
            {
                break;
            }

            foreach (var member in added)
            {
                Signal(member, Signals.Stop);
            }

            members.AddRange(added);
        }

        foreach (var member in members)
        {
            Signal(member, Signals.Kill);
        }
    }

    /// <summary>Sends <paramref name="signal"/> if the PID still belongs to the process that started at <c>Start</c>.</summary>
    public static bool Signal((int Pid, long Start) member, int signal)
        => StartTime(member.Pid) == member.Start && SendSignal(member.Pid, signal) == 0;

    /// <summary>Sends <paramref name="signal"/> to <paramref name="pid"/>; the errno when it fails, else 0.</summary>
    public static int Send(int pid, int signal) => SendSignal(pid, signal) == 0 ? 0 : Marshal.GetLastPInvokeError();

    public static long? StartTime(int pid) => Stat(pid)?.Start;

    private static (int Parent, long Start)? Stat(int pid)
    {
        try
        {
            // Fields after the command name (which may hold spaces and parentheses): state, ppid, ... starttime is the 20th.
            string stat = File.ReadAllText($"/proc/{pid}/stat");
            string[] fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return (int.Parse(fields[1], CultureInfo.InvariantCulture), long.Parse(fields[19], CultureInfo.InvariantCulture));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return null; // gone meanwhile
        }
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int SendSignal(int pid, int signal);
}
