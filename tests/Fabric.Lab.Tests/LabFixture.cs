using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace Fabric.Lab.Tests;

/// <summary>
/// A whole local fabric: the namespace lab (3 hosts × 2 VMs, deploy/lab/lab.sh), a silo process on
/// loopback, port groups "web" (VNI 5001, VMs vm1) and "db" (VNI 5002, VMs vm2) created through the
/// API, and one agent process per host whose data plane works inside that host's namespace. Built
/// once for the collection, torn down always (processes by PID, namespaces by prefix).
/// </summary>
public sealed class LabFixture : IAsyncLifetime
{
    public const int Hosts = 3;
    public const long WebVni = 5001;
    public const long DbVni = 5002;

    private readonly List<Process> _processes = [];
    private readonly StringBuilder _log = new();

    public string Prefix { get; } = $"fl{Environment.ProcessId % 10000:D4}{Random.Shared.Next(100):D2}";

    public string RepoRoot { get; } = FindRepoRoot();

    public string LabScript => Path.Combine(RepoRoot, "deploy", "lab", "lab.sh");

    public Dictionary<string, string> Env { get; } = new(StringComparer.Ordinal);

    public HttpClient Http { get; private set; } = null!;

    public string StatusDir { get; } = Directory.CreateTempSubdirectory("fabric-lab-").FullName;

    public string Log
    {
        get
        {
            lock (_log)
            {
                return _log.ToString();
            }
        }
    }

    public string UnderlayIp(int host) => Env[$"H{host}_IP"];

    public string VmIp(int host, int vm) => Env[$"H{host}_VM{vm}_IP"];

    public string VmNamespace(int host, int vm) => $"{Prefix}-h{host}-vm{vm}";

    public string HostNamespace(int host) => $"{Prefix}-h{host}";

    public string StatusFile(int host) => Path.Combine(StatusDir, $"h{host}.json");

    public async Task InitializeAsync()
    {
        try
        {
            var up = await Shell.RunAsync("bash", [LabScript, "up", "--prefix", Prefix, "--hosts", Hosts.ToString(), "--vms", "2", "--quiet"], TimeSpan.FromMinutes(2));
            Assert.True(up.ExitCode == 0, $"lab up failed: {up.Output}");
            foreach (var line in File.ReadAllLines($"/run/fabric-lab/{Prefix}.env"))
            {
                int eq = line.IndexOf('=');
                if (eq > 0 && !line.StartsWith('#'))
                {
                    Env[line[..eq]] = line[(eq + 1)..].Trim('"');
                }
            }

            int http = FreeTcpPort(), silo = FreeTcpPort(), gateway = FreeTcpPort();
            Http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{http}/"), Timeout = TimeSpan.FromSeconds(30) };
            Start("silo", BuiltDll("Silo", "Fabric.Silo.dll"),
                "--urls", $"http://127.0.0.1:{http}",
                "--Fabric:Cluster:SiloPort", silo.ToString(),
                "--Fabric:Cluster:GatewayPort", gateway.ToString(),
                "--Fabric:Cluster:ClusterId", $"lab-{Prefix}");
            await WaitAsync(async () => (await Http.GetAsync("healthz")).IsSuccessStatusCode, TimeSpan.FromSeconds(90), "silo healthy");

            await PutAsync("api/switches/dvs", """{"mtu":1450}""");
            await PutAsync("api/switches/dvs/portgroups/web", $$"""{"vni":{{WebVni}}}""");
            await PutAsync("api/switches/dvs/portgroups/db", $$"""{"vni":{{DbVni}}}""");

            for (int h = 1; h <= Hosts; h++)
            {
                Start($"agent h{h}", BuiltDll("HostAgent", "Fabric.HostAgent.dll"),
                    "--Fabric:Cluster:Gateways:0", $"127.0.0.1:{gateway}",
                    "--Fabric:Cluster:ClusterId", $"lab-{Prefix}",
                    "--Fabric:Agent:HostId", $"h{h}",
                    "--Fabric:Agent:VtepAddress", UnderlayIp(h),
                    "--Fabric:Agent:Switch", "dvs",
                    "--Fabric:Agent:NetworkNamespace", HostNamespace(h),
                    "--Fabric:Agent:Ports:0:Interface", "vm1",
                    "--Fabric:Agent:Ports:0:PortGroup", "web",
                    "--Fabric:Agent:Ports:1:Interface", "vm2",
                    "--Fabric:Agent:Ports:1:PortGroup", "db",
                    "--Fabric:Agent:StatusFile", StatusFile(h));
            }

            // Converged when every segment's flood list has every host.
            await WaitAsync(async () =>
            {
                foreach (long vni in new[] { WebVni, DbVni })
                {
                    var segment = await Http.GetFromJsonAsync<JsonElement>($"api/segments/{vni}");
                    if (segment.GetProperty("floodList").GetArrayLength() != Hosts)
                    {
                        return false;
                    }
                }

                return true;
            }, TimeSpan.FromSeconds(60), "every agent in every flood list");
        }
        catch (Exception ex)
        {
            string log = Log;
            await DisposeAsync();
            throw new InvalidOperationException($"the lab did not come up: {ex.Message}\n--- process output (tail) ---\n{log[Math.Max(0, log.Length - 6000)..]}", ex);
        }
    }

    public async Task DisposeAsync()
    {
        foreach (var process in _processes)
        {
            try
            {
                if (!process.HasExited)
                {
                    process.Kill(entireProcessTree: true);
                    await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
                }
            }
            catch (Exception)
            {
                // Best effort; lab down below also ends what runs in the namespaces.
            }
        }

        await Shell.RunAsync("bash", [LabScript, "down", "--prefix", Prefix], TimeSpan.FromMinutes(1));
        Http?.Dispose();
        try
        {
            Directory.Delete(StatusDir, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    public async Task<JsonElement> AgentStatusAsync(int host)
    {
        for (int attempt = 0; ; attempt++)
        {
            try
            {
                return JsonDocument.Parse(await File.ReadAllTextAsync(StatusFile(host))).RootElement.Clone();
            }
            catch (Exception) when (attempt < 20)
            {
                await Task.Delay(100);
            }
        }
    }

    public static async Task WaitAsync(Func<Task<bool>> condition, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        Exception? last = null;
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                if (await condition())
                {
                    return;
                }
            }
            catch (Exception ex)
            {
                last = ex;
            }

            await Task.Delay(200);
        }

        throw new TimeoutException($"timed out after {timeout.TotalSeconds} s waiting for: {what}" + (last is null ? string.Empty : $" (last error: {last.Message})"));
    }

    private async Task PutAsync(string path, string json)
    {
        using var content = new StringContent(json, Encoding.UTF8, "application/json");
        using var response = await Http.PutAsync(path, content);
        Assert.True(response.IsSuccessStatusCode, $"PUT {path}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
    }

    private void Start(string name, string dll, params string[] args)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Path.GetDirectoryName(dll)!,
        };
        start.ArgumentList.Add(dll);
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {name}");
        process.OutputDataReceived += (_, e) => Append(name, e.Data);
        process.ErrorDataReceived += (_, e) => Append(name, e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _processes.Add(process);
    }

    private void Append(string name, string? line)
    {
        if (line is not null)
        {
            lock (_log)
            {
                _log.Append(name).Append(": ").AppendLine(line);
            }
        }
    }

    /// <summary>
    /// A process's dll in its own project's output (same configuration as the tests), where its
    /// deps.json and runtimeconfig.json describe it, rather than the copy next to the tests.
    /// </summary>
    private string BuiltDll(string project, string dll)
    {
        string configuration = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar)).Parent!.Name;
        string path = Path.Combine(RepoRoot, project, "bin", configuration, "net10.0", dll);
        return File.Exists(path) ? path : throw new FileNotFoundException($"{dll} is not built at {path}; build Fabric.sln first");
    }

    private static int FreeTcpPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Fabric.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("Fabric.sln not found above the test directory");
    }
}

[CollectionDefinition(Name)]
public sealed class LabCollection : ICollectionFixture<LabFixture>
{
    public const string Name = "namespace lab";
}

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
}
