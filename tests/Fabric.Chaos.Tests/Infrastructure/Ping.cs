using System.Globalization;
using System.Text.RegularExpressions;

namespace Fabric.Chaos.Tests;

/// <summary>
/// A continuous <c>ping -D -i INTERVAL</c> inside a VM namespace, stopped with SIGINT (by PID).
/// Every reply is kept with its timestamp, so loss and the longest gap between replies can be read.
/// </summary>
public sealed partial class Ping : IDisposable
{
    private readonly TestProcess _process;

    private Ping(TestProcess process, double interval)
    {
        _process = process;
        Interval = interval;
    }

    public double Interval { get; }

    public static Ping Start(string ns, string target, double interval = 0.01, int size = 56)
    {
        var process = TestProcess.StartInNamespace($"ping {ns}→{target}", ns,
            ["ping", "-D", "-n", "-W", "1", "-s", size.ToString(CultureInfo.InvariantCulture), "-i", interval.ToString(CultureInfo.InvariantCulture), target]);
        return new Ping(process, interval);
    }

    /// <summary>The replies so far: (icmp_seq, unix time in seconds).</summary>
    public IReadOnlyList<(int Seq, double Time)> Replies()
    {
        var replies = new List<(int, double)>();
        foreach (Match m in ReplyLine().Matches(_process.Output.Text))
        {
            replies.Add((int.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture), double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture)));
        }

        return replies;
    }

    /// <summary>
    /// Waits (at most 30 s) until <paramref name="count"/> replies came back: the flow is established
    /// before a test disturbs it (100 replies at the usual 10 ms interval: a second of traffic).
    /// </summary>
    public Task WaitRepliesAsync(int count)
        => Eventually.WaitAsync(() => Replies().Count >= count, TimeSpan.FromSeconds(30), $"{count} replies to {_process.Name}", TimeSpan.FromMilliseconds(20));

    /// <summary>Stops the ping (SIGINT, then waits, at most 5 s, for its summary and the end of its output).</summary>
    public async Task<PingSummary> StopAsync()
    {
        _process.Signal(Signals.Interrupt);
        await _process.WaitForExitAsync(TimeSpan.FromSeconds(5));
        string output = _process.Output.Text;
        var summary = Summary().Match(output);
        var replies = Replies();
        var unique = summary.Success ? int.Parse(summary.Groups[2].Value, CultureInfo.InvariantCulture) : replies.Select(r => r.Seq).Distinct().Count();
        int transmitted = summary.Success ? int.Parse(summary.Groups[1].Value, CultureInfo.InvariantCulture) : (replies.Count == 0 ? 0 : replies.Max(r => r.Seq));
        double maxGap = 0;
        double gapAt = 0;
        for (int i = 1; i < replies.Count; i++)
        {
            double gap = replies[i].Time - replies[i - 1].Time;
            if (gap > maxGap)
            {
                maxGap = gap;
                gapAt = replies[i - 1].Time;
            }
        }

        return new PingSummary(transmitted, unique, maxGap * 1000, gapAt, replies, output);
    }

    public void Dispose() => _process.Dispose();

    [GeneratedRegex(@"^.*?\[(\d+\.\d+)\] \d+ bytes from \S+ icmp_seq=(\d+)", RegexOptions.Multiline)]
    private static partial Regex ReplyLine();

    [GeneratedRegex(@"(\d+) packets transmitted, (\d+) received")]
    private static partial Regex Summary();
}

public sealed record PingSummary(int Transmitted, int Received, double MaxGapMs, double MaxGapAt, IReadOnlyList<(int Seq, double Time)> Replies, string Output)
{
    public int Lost => Math.Max(0, Transmitted - Received);

    /// <summary>Replies missing between the first and the last reply (tail in flight at SIGINT excluded).</summary>
    public int LostWithin => Replies.Count == 0 ? Transmitted : Replies.Max(r => r.Seq) - Replies.Min(r => r.Seq) + 1 - Received;

    public override string ToString() => $"{Transmitted} sent, {Received} received, {LostWithin} lost, longest gap {MaxGapMs:F0} ms";
}
