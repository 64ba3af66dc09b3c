namespace Fabric.HostAgent.Tests.Ports;

/// <summary>
/// Measures what a round of socket work allocates on the calling thread. A per-frame allocation shows
/// in every window of rounds; a one-off of the runtime (a method tiered up, a lazy static) in one
/// window only, so the first clean window of up to <see cref="MaxWindows"/> proves the rule.
/// </summary>
internal static class AllocationWindows
{
    public const int WarmUpRounds = 200;
    public const int RoundsPerWindow = 100;
    public const int MaxWindows = 5;

    /// <summary>Runs <paramref name="round"/> <see cref="WarmUpRounds"/> times, then in windows until one allocates nothing; returns the bytes of each window (the last is 0 when the rule holds).</summary>
    public static IReadOnlyList<long> Measure(Action round)
    {
        for (int i = 0; i < WarmUpRounds; i++)
        {
            round();
        }

        var windows = new List<long>();
        for (int w = 0; w < MaxWindows && (windows.Count == 0 || windows[^1] != 0); w++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < RoundsPerWindow; i++)
            {
                round();
            }

            windows.Add(GC.GetAllocatedBytesForCurrentThread() - before);
        }

        return windows;
    }

    /// <summary>How many rounds <see cref="Measure"/> ran for <paramref name="windows"/>.</summary>
    public static int Rounds(IReadOnlyList<long> windows) => WarmUpRounds + (RoundsPerWindow * windows.Count);
}
