using System.Diagnostics;

namespace Fabric.HostAgent.Tests.Interop;

/// <summary>
/// Runs tshark (Wireshark's dissectors) as an independent judge of our bytes. A missing tshark is a
/// failure, not a skip: CI installs it, and a judge that silently stays away proves nothing.
/// </summary>
internal static class Tshark
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(120);

    /// <summary>
    /// Checksum validation is off by default in Wireshark; the judge turns it on. Checksum status
    /// fields then read 0 bad, 1 good, 2 unverified, 3 not present (epan/proto.h).
    /// </summary>
    private static readonly string[] Preferences =
    [
        "-o", "ip.check_checksum:TRUE",
        "-o", "udp.check_checksum:TRUE",
    ];

    public static string Path { get; } = Locate();

    private static string Locate()
    {
        string? fromEnvironment = Environment.GetEnvironmentVariable("TSHARK");
        if (!string.IsNullOrEmpty(fromEnvironment) && File.Exists(fromEnvironment))
        {
            return fromEnvironment;
        }

        foreach (string directory in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(System.IO.Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries).Append("/usr/bin"))
        {
            string candidate = System.IO.Path.Combine(directory, "tshark");
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return "";
    }

    /// <summary>One line per frame, fields separated by ',' and repeated occurrences (outer, inner) by '|'.</summary>
    public static IReadOnlyList<string[]> Fields(string pcap, params string[] fields)
    {
        var arguments = new List<string> { "-r", pcap };
        arguments.AddRange(Preferences);
        arguments.AddRange(["-T", "fields", "-E", "separator=,", "-E", "aggregator=|", "-E", "occurrence=a"]);
        foreach (string field in fields)
        {
            arguments.Add("-e");
            arguments.Add(field);
        }

        return Run(arguments)
            .Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => line.Split(','))
            .ToList();
    }

    /// <summary>
    /// Frames tshark finds malformed, or with an expert item of warning or error severity, or with a
    /// bad IPv4 or UDP checksum (status 0 = bad): each as "frame number: expert messages".
    /// </summary>
    public static IReadOnlyList<string> Complaints(string pcap)
    {
        var arguments = new List<string> { "-r", pcap };
        arguments.AddRange(Preferences);
        arguments.AddRange(
        [
            "-Y", "_ws.malformed || _ws.expert.severity >= \"warning\" || ip.checksum.status == 0 || udp.checksum.status == 0",
            "-T", "fields", "-E", "separator=:", "-E", "aggregator=;", "-e", "frame.number", "-e", "_ws.expert.message",
        ]);
        return Run(arguments).Split('\n', StringSplitOptions.RemoveEmptyEntries);
    }

    /// <summary>The "-z expert" summary, for the failure message.</summary>
    public static string ExpertSummary(string pcap)
    {
        var arguments = new List<string> { "-r", pcap, "-q", "-z", "expert" };
        arguments.AddRange(Preferences);
        return Run(arguments);
    }

    private static string Run(IEnumerable<string> arguments)
    {
        Assert.True(
            Path.Length > 0,
            "tshark not found (on PATH, /usr/bin or $TSHARK). Install it: apt-get install -y tshark. These tests fail rather than skip.");

        var start = new ProcessStartInfo(Path)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException("tshark did not start");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(Timeout))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"tshark did not finish in {Timeout}");
        }

        process.WaitForExit();
        Assert.True(process.ExitCode == 0, $"tshark exited {process.ExitCode}: {stderr.Result}");
        return stdout.Result;
    }
}
