using System.Diagnostics;
using System.Globalization;
using Fabric.HostAgent.Ports;

namespace Fabric.HostAgent.Tests.Ports;

/// <summary>
/// A receive thread is SCHED_FIFO while it uses little CPU and goes back to normal scheduling while
/// it is saturated, then real-time again when the load is gone, as the kernel reports it in
/// /proc/self/task/TID/stat. Needs CAP_SYS_NICE (the suite runs as root), hence Lab.
/// </summary>
[Trait("Category", "Lab")]
public sealed class ReceivePriorityTests
{
    /// <summary>(policy, rt_priority) of the calling thread: proc(5) stat fields 41 and 40.</summary>
    private static (int Policy, int Priority) OwnScheduling()
    {
        string stat = File.ReadAllText($"/proc/thread-self/stat");
        string[] fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return (int.Parse(fields[41 - 3], CultureInfo.InvariantCulture), int.Parse(fields[40 - 3], CultureInfo.InvariantCulture));
    }

    private static T OnOwnThread<T>(Func<T> body)
    {
        T result = default!;
        Exception? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                result = body();
            }
            catch (Exception ex)
            {
                failure = ex;
            }
        });
        thread.Start();
        Assert.True(thread.Join(TimeSpan.FromSeconds(20)), "the thread did not finish within 20 s");
        return failure is null ? result : throw new InvalidOperationException("the thread failed", failure);
    }

    [Fact]
    public void Priority_zero_leaves_the_thread_on_normal_scheduling()
    {
        var (priority, error, scheduling) = OnOwnThread(() => (ReceivePriority.TryRaise(0, out string? e), e, OwnScheduling()));
        Assert.Null(priority);
        Assert.Null(error);
        Assert.Equal((0, 0), scheduling);
    }

    [Fact]
    public void A_saturated_thread_goes_to_normal_scheduling_and_an_idle_one_comes_back_to_fifo()
    {
        var seen = OnOwnThread(() =>
        {
            var priority = ReceivePriority.TryRaise(10, out string? error) ?? throw new InvalidOperationException($"SCHED_FIFO refused: {error}");
            var raised = OwnScheduling();

            // Busy for 5 windows: every batch finds more work (a flood).
            var clock = Stopwatch.StartNew();
            while (!priority.Demoted && clock.Elapsed < TimeSpan.FromSeconds(5))
            {
                Thread.SpinWait(1000);
                priority.AfterBatch();
            }

            var underLoad = OwnScheduling();
            bool demoted = priority.Demoted;

            // Idle: the receive blocks between sparse batches (pings).
            clock.Restart();
            while (priority.Demoted && clock.Elapsed < TimeSpan.FromSeconds(5))
            {
                Thread.Sleep(2);
                priority.AfterBatch();
            }

            return (raised, demoted, underLoad, Promoted: !priority.Demoted, idle: OwnScheduling(), priority.Demotions);
        });

        Assert.Equal((1, 10), seen.raised); // SCHED_FIFO = 1, sched(7)
        Assert.True(seen.demoted, "a thread on CPU all the time was never demoted within 5 s");
        Assert.Equal((0, 0), seen.underLoad); // SCHED_OTHER
        Assert.True(seen.Promoted, "an idle thread was not made real-time again within 5 s");
        Assert.Equal((1, 10), seen.idle);
        Assert.Equal(1, seen.Demotions);
    }

    [Fact]
    public void Checking_the_budget_after_each_batch_allocates_nothing_also_across_a_demotion_and_a_promotion()
    {
        var (allocated, demotions) = OnOwnThread(() =>
        {
            var priority = ReceivePriority.TryRaise(10, out string? error) ?? throw new InvalidOperationException($"SCHED_FIFO refused: {error}");
            priority.AfterBatch();
            var clock = Stopwatch.StartNew(); // the one allocation, before the measurement
            long before = GC.GetAllocatedBytesForCurrentThread();
            while (priority.Demotions == 0 && clock.Elapsed < TimeSpan.FromSeconds(5))
            {
                Thread.SpinWait(1000);
                priority.AfterBatch();
            }

            clock.Restart();
            while (priority.Demoted && clock.Elapsed < TimeSpan.FromSeconds(5))
            {
                Thread.Sleep(2);
                priority.AfterBatch();
            }

            return (GC.GetAllocatedBytesForCurrentThread() - before, priority.Demotions);
        });

        Assert.Equal(1, demotions);
        Assert.Equal(0, allocated);
    }
}
