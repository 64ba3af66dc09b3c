using System.Globalization;
using Xunit.Abstractions;

namespace Fabric.Chaos.Tests;

/// <summary>Figures of the chaos cases: to the test output and appended to $TMPDIR/fabric-chaos-results.txt (or FABRIC_CHAOS_RESULTS).</summary>
public static class Results
{
    private static readonly Lock Gate = new();

    public static string File => Environment.GetEnvironmentVariable("FABRIC_CHAOS_RESULTS") is { Length: > 0 } path
        ? path
        : Path.Combine(Path.GetTempPath(), "fabric-chaos-results.txt");

    public static void Report(ITestOutputHelper output, string caseName, string figure)
    {
        string line = string.Create(CultureInfo.InvariantCulture, $"{DateTime.UtcNow:yyyy-MM-ddTHH:mm:ssZ} [{caseName}] {figure}");
        output.WriteLine(line);
        lock (Gate)
        {
            System.IO.File.AppendAllText(File, line + Environment.NewLine);
        }
    }
}
