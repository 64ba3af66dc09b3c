namespace Fabric.Cli.Tests;

/// <summary>
/// fabricctl as it ships: <c>dotnet publish Cli/Fabric.Cli.csproj -c Release -o DIR</c> (the packaging
/// script's command), one native executable, published once per test process into a directory of
/// its own (FABRIC_LAB_BUILD_ROOT names another tree, as for the other built outputs). Runs with an
/// environment that has no .NET in it.
/// </summary>
public static class PublishedCli
{
    private static readonly Lazy<Task<string>> Executable = new(PublishAsync);

    /// <summary>The published executable's path (published on first use, bounded at 10 minutes).</summary>
    public static Task<string> PathAsync() => Executable.Value;

    /// <summary>
    /// Runs <c>bash -c <paramref name="script"/></c> with <c>$FABRICCTL</c> the published executable,
    /// FABRIC_SERVER <paramref name="server"/>, and nothing else of the environment: no DOTNET_*
    /// variable, and a PATH of its own that holds only the tools the script may use (<paramref name="tools"/>), not dotnet.
    /// </summary>
    public static async Task<Shell.Result> RunAsync(string script, Uri server, TimeSpan? timeout = null, params string[] tools)
    {
        string fabricctl = await PathAsync();
        string bin = Directory.CreateTempSubdirectory("fabricctl-path-").FullName;
        try
        {
            foreach (string tool in new[] { "bash", "grep", "cat" }.Concat(tools))
            {
                File.CreateSymbolicLink(Path.Combine(bin, tool), Path.Combine("/usr/bin", tool));
            }

            return await Shell.RunAsync("/usr/bin/env", ["-i", $"PATH={bin}", "HOME=/tmp", $"FABRICCTL={fabricctl}", $"FABRIC_SERVER={server}", "bash", "-c", script],
                timeout ?? TimeSpan.FromSeconds(60));
        }
        finally
        {
            Directory.Delete(bin, recursive: true);
        }
    }

    private const string Stem = "fabricctl-published-";

    private static async Task<string> PublishAsync()
    {
        // One directory per test process, removed when it exits; a killed test host's is removed by the next run.
        foreach (string stale in Directory.GetDirectories(Path.GetTempPath(), Stem + "*"))
        {
            if (int.TryParse(Path.GetFileName(stale)[Stem.Length..], out int pid) && pid != Environment.ProcessId && !Directory.Exists($"/proc/{pid}"))
            {
                Directory.Delete(stale, recursive: true);
            }
        }

        string output = Path.Combine(Path.GetTempPath(), Stem + Environment.ProcessId);
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            if (Directory.Exists(output))
            {
                Directory.Delete(output, recursive: true);
            }
        };
        string root = Environment.GetEnvironmentVariable("FABRIC_LAB_BUILD_ROOT") is { Length: > 0 } other ? other : Repository.Root;
        var result = await Shell.RunAsync(
            "dotnet",
            ["publish", Path.Combine(root, "Cli", "Fabric.Cli.csproj"), "-c", "Release", "-o", output, "--verbosity", "quiet", "-nologo"],
            TimeSpan.FromMinutes(10));
        string executable = Path.Combine(output, "fabricctl");
        return result.ExitCode == 0 && File.Exists(executable)
            ? executable
            : throw new InvalidOperationException($"publishing fabricctl (Native AOT) failed:\n{result.Output}");
    }
}
