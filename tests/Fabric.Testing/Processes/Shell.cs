namespace Fabric.Testing;

/// <summary>Commands run to completion, bounded: on the host, or inside a network namespace.</summary>
public static class Shell
{
    /// <summary>How a command ended: its exit code (-1 when it timed out) and its stdout followed by its stderr.</summary>
    public sealed record Result(int ExitCode, string Output);

    /// <summary>Runs <paramref name="file"/>; past <paramref name="timeout"/> its whole tree is killed and the exit code is -1.</summary>
    public static async Task<Result> RunAsync(string file, IEnumerable<string> args, TimeSpan timeout)
    {
        await using var process = TestProcess.Start(Path.GetFileName(file), file, args, new TestProcessOptions { MaxOutputChars = int.MaxValue });
        if (!await process.WaitForExitAsync(timeout))
        {
            process.Kill();
            return new Result(-1, $"timed out after {timeout}: {process.Output.TextOf(OutputStream.Out)}{process.Output.TextOf(OutputStream.Error)}");
        }

        return new Result(process.ExitCode, process.Output.TextOf(OutputStream.Out) + process.Output.TextOf(OutputStream.Error));
    }

    /// <summary>Runs <paramref name="command"/> with bash inside <paramref name="ns"/> (default bound 30 s).</summary>
    public static Task<Result> InNamespaceAsync(string ns, string command, TimeSpan? timeout = null)
        => RunAsync("ip", ["netns", "exec", ns, "bash", "-c", command], timeout ?? TimeSpan.FromSeconds(30));

    /// <summary>Runs <paramref name="command"/> in <paramref name="ns"/> and throws, with its output, unless it exits 0.</summary>
    /// <returns>Its output.</returns>
    public static async Task<string> CheckedAsync(string ns, string command, TimeSpan? timeout = null)
    {
        var result = await InNamespaceAsync(ns, command, timeout);
        return result.ExitCode == 0 ? result.Output : throw new CommandFailedException($"[{ns}] {command} exited {result.ExitCode}:\n{result.Output}");
    }
}

/// <summary>A command a test needed exited non-zero; the message holds the command and its output.</summary>
public sealed class CommandFailedException(string message) : Exception(message);
