using System.Diagnostics;

namespace Fabric.Lab.Tests;

public static class Shell
{
    public sealed record Result(int ExitCode, string Output);

    public static async Task<Result> RunAsync(string file, IEnumerable<string> args, TimeSpan timeout)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        try
        {
            await process.WaitForExitAsync().WaitAsync(timeout);
        }
        catch (TimeoutException)
        {
            process.Kill(entireProcessTree: true);
            return new Result(-1, $"timed out after {timeout}: {await stdout}{await stderr}");
        }

        return new Result(process.ExitCode, await stdout + await stderr);
    }

    public static Task<Result> InNamespaceAsync(string ns, string command, TimeSpan? timeout = null)
        => RunAsync("ip", ["netns", "exec", ns, "bash", "-c", command], timeout ?? TimeSpan.FromSeconds(30));

    /// <summary>Runs <paramref name="command"/> in <paramref name="ns"/> and fails the test with its output unless it exits 0.</summary>
    public static async Task<string> CheckedAsync(string ns, string command, TimeSpan? timeout = null)
    {
        var result = await InNamespaceAsync(ns, command, timeout);
        Assert.True(result.ExitCode == 0, $"[{ns}] {command} exited {result.ExitCode}:\n{result.Output}");
        return result.Output;
    }
}
