using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Fabric.HostAgent.Ports;

/// <summary>
/// The scheduling of one receive thread, owned by that thread: SCHED_FIFO while it uses little CPU,
/// so that a woken thread runs at once (the latency tail on a busy host is otherwise the
/// time-sharing scheduler's slices); back to SCHED_OTHER while it is saturated, so that a flood
/// cannot starve the workloads on the same CPUs. This is the kernel's own NAPI rule (softirq
/// receive runs before any task, but only for net.core.netdev_budget_usecs, 2 ms, then the rest
/// goes to ksoftirqd at normal priority), applied per 10 ms window with hysteresis: above half of
/// the window on CPU → normal scheduling; below a quarter → real-time again.
/// </summary>
/// <remarks>
/// <see cref="AfterBatch"/> costs one <see cref="Stopwatch.GetTimestamp"/> per batch, and at most
/// one clock_gettime(CLOCK_THREAD_CPUTIME_ID) and one sched_setscheduler per window: no allocation,
/// no lock.
/// </remarks>
internal sealed partial class ReceivePriority
{
    /// <summary>The measuring window.</summary>
    public static readonly TimeSpan Window = TimeSpan.FromMilliseconds(10);

    /// <summary>CPU share of a window (0..1) above which a real-time thread goes back to normal scheduling.</summary>
    public const double DemoteAbove = 0.5;

    /// <summary>CPU share of a window (0..1) below which a demoted thread is real-time again.</summary>
    public const double PromoteBelow = 0.25;

    private const int SchedOther = 0;
    private const int SchedFifo = 1;
    private const int ClockThreadCpuTime = 3;

    private static readonly long WindowTicks = (long)(Window.TotalSeconds * Stopwatch.Frequency);

    private readonly int _priority;
    private long _windowStart;
    private long _cpuAtWindowStart;

    private ReceivePriority(int priority)
    {
        _priority = priority;
        _windowStart = Stopwatch.GetTimestamp();
        _cpuAtWindowStart = ThreadCpuNanoseconds();
    }

    /// <summary>Whether the thread runs SCHED_OTHER now because it was saturated.</summary>
    public bool Demoted { get; private set; }

    /// <summary>How many times the thread went back to normal scheduling under load.</summary>
    public long Demotions { get; private set; }

    /// <summary>
    /// Makes the calling thread SCHED_FIFO at <paramref name="priority"/> (1..99). Returns the
    /// thread's controller, or null with <paramref name="error"/> set when the kernel refuses
    /// (no CAP_SYS_NICE); <paramref name="priority"/> 0 returns null and no error.
    /// </summary>
    public static ReceivePriority? TryRaise(int priority, out string? error)
    {
        error = null;
        if (priority == 0)
        {
            return null;
        }

        // pid 0 = the calling thread (sched_setscheduler(2) acts on a thread id on Linux).
        if (SetScheduler(SchedFifo, priority) != 0)
        {
            error = Marshal.GetLastPInvokeErrorMessage();
            return null;
        }

        return new ReceivePriority(priority);
    }

    /// <summary>Called by the owning thread after each receive (also one that returned nothing).</summary>
    public void AfterBatch()
    {
        long now = Stopwatch.GetTimestamp();
        long wall = now - _windowStart;
        if (wall < WindowTicks)
        {
            return;
        }

        long cpu = ThreadCpuNanoseconds();
        double share = (cpu - _cpuAtWindowStart) / (wall * 1e9 / Stopwatch.Frequency);
        _windowStart = now;
        _cpuAtWindowStart = cpu;
        if (!Demoted && share > DemoteAbove)
        {
            if (SetScheduler(SchedOther, 0) == 0)
            {
                Demoted = true;
                Demotions++;
            }
        }
        else if (Demoted && share < PromoteBelow && SetScheduler(SchedFifo, _priority) == 0)
        {
            Demoted = false;
        }
    }

    private static int SetScheduler(int policy, int priority) => SchedSetScheduler(0, policy, ref priority);

    private static long ThreadCpuNanoseconds()
        => ClockGetTime(ClockThreadCpuTime, out var time) == 0 ? (time.Seconds * 1_000_000_000) + time.Nanoseconds : 0;

    [LibraryImport("libc", EntryPoint = "sched_setscheduler", SetLastError = true)]
    private static partial int SchedSetScheduler(int pid, int policy, ref int priority);

    [LibraryImport("libc", EntryPoint = "clock_gettime")]
    private static partial int ClockGetTime(int clock, out TimeSpec time);

    [StructLayout(LayoutKind.Sequential)]
    private struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }
}
