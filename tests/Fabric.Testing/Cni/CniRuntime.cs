using System.Text.Json.Nodes;

namespace Fabric.Testing;

/// <summary>
/// Drives the fabric CNI plugin as container runtimes do, inside a lab host's network namespace:
/// through <c>cnitool</c> (tests/cnitool, a small runtime on Debian's libcni, built once per test
/// process with Debian's Go, offline) and by executing the plugin directly with a CNI environment
/// and a config on stdin (for what libcni 1.1 cannot send: spec 1.1.0's GC and STATUS, bad input).
/// </summary>
public static class CniRuntime
{
    private static readonly Lazy<Task<string>> Tool = new(BuildToolAsync);
    private static readonly Lazy<Task<string>> Plugin = new(PublishPluginAsync);

    /// <summary>
    /// The directory holding the plugin as it ships: <c>dotnet publish Cni -r linux-x64</c>, one
    /// native executable (Native AOT), published once per test process (FABRIC_LAB_BUILD_ROOT names
    /// another tree to publish, as for the other built outputs).
    /// </summary>
    public static Task<string> PluginDirectoryAsync() => Plugin.Value;

    /// <summary>The plugin directories a runtime searches: the published plugin, then Debian's reference plugins.</summary>
    public static async Task<string> CniPathAsync() => $"{await PluginDirectoryAsync()}:/usr/lib/cni";

    /// <summary>How a call ended: the exit code and the plugin's (or cnitool's) output, parsed when it is JSON.</summary>
    public sealed record Outcome(int ExitCode, string Output)
    {
        /// <summary>The output as a JSON object, or null.</summary>
        public JsonObject? Json
        {
            get
            {
                try
                {
                    return JsonNode.Parse(Output) as JsonObject;
                }
                catch (System.Text.Json.JsonException)
                {
                    return null;
                }
            }
        }

        /// <summary>The CNI error code of a failed call, or null.</summary>
        public int? ErrorCode => Json?["code"]?.GetValue<int>();
    }

    /// <summary>
    /// Runs <c>cnitool <paramref name="command"/></c> (add, check, del, validate) for the conflist in
    /// <paramref name="conflistFile"/> inside <paramref name="hostNamespace"/>, with capability
    /// arguments <paramref name="capArgs"/> (JSON) and <paramref name="cniArgs"/>.
    /// </summary>
    public static async Task<Outcome> ToolAsync(string hostNamespace, string command, string conflistFile, string netns, string containerId, string ifName = "eth0", string? capArgs = null, string? cniArgs = null, string? cacheDir = null)
    {
        string tool = await Tool.Value;
        var env = new List<string> { $"CNI_PATH={await CniPathAsync()}", $"CNI_CACHE_DIR={cacheDir ?? Path.Combine(Path.GetTempPath(), "fabric-cnitool-cache")}" };
        if (capArgs is not null)
        {
            env.Add($"CAP_ARGS={capArgs}");
        }

        if (cniArgs is not null)
        {
            env.Add($"CNI_ARGS={cniArgs}");
        }

        var result = await Shell.RunAsync("ip", ["netns", "exec", hostNamespace, "env", .. env, tool, command, conflistFile, netns, containerId, ifName], TimeSpan.FromSeconds(60));
        return new Outcome(result.ExitCode, result.Output.Trim());
    }

    /// <summary>
    /// Executes the plugin with <c>CNI_COMMAND=<paramref name="command"/></c> and the other CNI_*
    /// variables given, <paramref name="stdin"/> as its config, inside <paramref name="hostNamespace"/>,
    /// with no other environment than PATH (as a strict runtime runs it).
    /// </summary>
    public static async Task<Outcome> PluginAsync(string hostNamespace, string command, string stdin, string? containerId = null, string? netns = null, string ifName = "eth0", string? cniArgs = null)
    {
        string input = Path.Combine(Path.GetTempPath(), $"fabric-cni-stdin-{Guid.NewGuid():N}.json");
        await File.WriteAllTextAsync(input, stdin);
        try
        {
            var env = new List<string> { "-i", "PATH=/usr/sbin:/usr/bin:/sbin:/bin", $"CNI_COMMAND={command}", $"CNI_PATH={await CniPathAsync()}", $"CNI_IFNAME={ifName}" };
            if (containerId is not null)
            {
                env.Add($"CNI_CONTAINERID={containerId}");
            }

            if (netns is not null)
            {
                env.Add($"CNI_NETNS={netns}");
            }

            if (cniArgs is not null)
            {
                env.Add($"CNI_ARGS={cniArgs}");
            }

            string plugin = Path.Combine(await PluginDirectoryAsync(), "fabric");
            var result = await Shell.RunAsync("ip", ["netns", "exec", hostNamespace, "bash", "-c", $"exec env {string.Join(' ', env.Select(Quote))} {Quote(plugin)} < {Quote(input)}"], TimeSpan.FromSeconds(60));
            return new Outcome(result.ExitCode, result.Output.Trim());
        }
        finally
        {
            File.Delete(input);
        }
    }

    private static string Quote(string s) => "'" + s.Replace("'", "'\\''", StringComparison.Ordinal) + "'";

    private static async Task<string> PublishPluginAsync()
    {
        string output = Path.Combine(Path.GetTempPath(), $"fabric-cni-plugin-{Environment.ProcessId}");
        string root = Environment.GetEnvironmentVariable("FABRIC_LAB_BUILD_ROOT") is { Length: > 0 } other ? other : Repository.Root;
        var result = await Shell.RunAsync(
            "dotnet",
            ["publish", Path.Combine(root, "Cni", "Fabric.Cni.csproj"), "-c", Repository.Configuration, "-r", "linux-x64", "-o", output, "--verbosity", "quiet", "-nologo"],
            TimeSpan.FromMinutes(5));
        return result.ExitCode == 0 && File.Exists(Path.Combine(output, "fabric"))
            ? output
            : throw new InvalidOperationException($"publishing the CNI plugin (Native AOT) failed:\n{result.Output}");
    }

    private static async Task<string> BuildToolAsync()
    {
        string output = Path.Combine(Path.GetTempPath(), $"fabric-cnitool-{Environment.ProcessId}");
        Directory.CreateDirectory(output);
        string binary = Path.Combine(output, "cnitool");
        var result = await Shell.RunAsync(
            "env",
            ["GO111MODULE=off", "GOPATH=/usr/share/gocode", $"GOCACHE={Path.Combine(Path.GetTempPath(), "fabric-gocache")}", "GOFLAGS=", "go", "build", "-o", binary, Repository.Path("tests", "cnitool", "main.go")],
            TimeSpan.FromMinutes(5));
        return result.ExitCode == 0 ? binary : throw new InvalidOperationException($"building cnitool failed (needs golang-go and golang-github-appc-cni-dev):\n{result.Output}");
    }
}
