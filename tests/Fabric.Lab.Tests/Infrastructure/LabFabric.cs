using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace Fabric.Lab.Tests;

/// <summary>
/// A whole local fabric built from a <see cref="LabShape"/>: the namespace lab (deploy/lab/lab.sh),
/// a silo process on loopback, switch "dvs" and its port groups created through the API, one agent
/// process per agent host whose data plane works inside that host's namespace, and optionally
/// Linux kernel VTEPs on the other hosts. Built once per fixture, torn down always (processes by
/// PID, namespaces by prefix).
/// </summary>
public abstract class LabFabric(LabShape shape) : IAsyncLifetime
{
    private readonly List<Process> _processes = [];
    private readonly StringBuilder _log = new();

    public LabShape Shape { get; } = shape;

    public string Prefix { get; } = $"{shape.Stem}{Environment.ProcessId % 10000:D4}{Random.Shared.Next(100):D2}";

    public string RepoRoot { get; } = TestEnvironment.FindRepoRoot();

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

    public string LogTail(int chars = 4000)
    {
        string log = Log;
        return log[Math.Max(0, log.Length - chars)..];
    }

    public string UnderlayNamespace => $"{Prefix}-ul";

    public string UnderlayIp(int host) => Env[$"H{host}_IP"];

    public string VmIp(int host, int vm) => Env[$"H{host}_VM{vm}_IP"];

    public string VmMac(int host, int vm) => Env[$"H{host}_VM{vm}_MAC"];

    public string VmNamespace(int host, int vm) => $"{Prefix}-h{host}-vm{vm}";

    public string HostNamespace(int host) => $"{Prefix}-h{host}";

    public string StatusFile(int host) => Path.Combine(StatusDir, $"h{host}.json");

    public async Task InitializeAsync()
    {
        try
        {
            await LabAsync("up", "--hosts", Shape.Hosts.ToString(), "--vms", Shape.Vms.ToString(), "--groups", Shape.Groups.ToString(), "--quiet");
            foreach (var line in File.ReadAllLines($"/run/fabric-lab/{Prefix}.env"))
            {
                int eq = line.IndexOf('=');
                if (eq > 0 && !line.StartsWith('#'))
                {
                    Env[line[..eq]] = line[(eq + 1)..].Trim('"');
                }
            }

            if (Shape.Kernel is { } kernel)
            {
                await LabAsync(["kernel", .. kernel]);
            }

            if (Shape.Prepare is { } prepare)
            {
                await prepare(this);
            }

            int http = TestEnvironment.FreeTcpPort(), silo = TestEnvironment.FreeTcpPort(), gateway = TestEnvironment.FreeTcpPort();
            Http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{http}/"), Timeout = TimeSpan.FromSeconds(30) };
            Start("silo", BuiltOutputs.Dll(RepoRoot, "Silo", "Fabric.Silo.dll"),
                "--urls", $"http://127.0.0.1:{http}",
                "--Fabric:Cluster:SiloPort", silo.ToString(),
                "--Fabric:Cluster:GatewayPort", gateway.ToString(),
                "--Fabric:Cluster:ClusterId", $"lab-{Prefix}");
            string agentDll = BuiltOutputs.Dll(RepoRoot, "HostAgent", "Fabric.HostAgent.dll");
            await WaitAsync(async () => (await Http.GetAsync("healthz")).IsSuccessStatusCode, TimeSpan.FromSeconds(90), "silo healthy");

            await PutAsync("api/switches/dvs", """{"mtu":1450}""");
            foreach (var group in Shape.PortGroups)
            {
                await PutAsync($"api/switches/dvs/portgroups/{group.Name}", group.Body);
            }

            foreach (var (host, ports) in Shape.Agents.OrderBy(a => a.Key))
            {
                var args = new List<string>
                {
                    "--Fabric:Cluster:Gateways:0", $"127.0.0.1:{gateway}",
                    "--Fabric:Cluster:ClusterId", $"lab-{Prefix}",
                    "--Fabric:Agent:HostId", $"h{host}",
                    "--Fabric:Agent:VtepAddress", UnderlayIp(host),
                    "--Fabric:Agent:Switch", "dvs",
                    "--Fabric:Agent:NetworkNamespace", HostNamespace(host),
                    "--Fabric:Agent:StatusFile", StatusFile(host),
                    "--Fabric:Agent:ForwardingCacheFile", Path.Combine(StatusDir, $"h{host}-forwarding.json"),
                };
                for (int i = 0; i < ports.Count; i++)
                {
                    args.AddRange([$"--Fabric:Agent:Ports:{i}:Interface", ports[i].Interface, $"--Fabric:Agent:Ports:{i}:PortGroup", ports[i].PortGroup]);
                }

                Start($"agent h{host}", agentDll, [.. args]);
            }

            // Converged when every segment's flood list holds exactly the expected agent hosts.
            await WaitAsync(async () =>
            {
                foreach (var (vni, hosts) in Shape.FloodLists)
                {
                    var expected = hosts.Select(UnderlayIp).Order().ToArray();
                    if (!expected.SequenceEqual((await FloodListAsync(vni)).Order()))
                    {
                        return false;
                    }
                }

                return true;
            }, TimeSpan.FromSeconds(60), "every agent in the flood lists of its segments");

            // ... and every agent's own tables (status file) have the other agents of its segments.
            await WaitAsync(async () =>
            {
                foreach (var (host, _) in Shape.Agents)
                {
                    var status = await AgentStatusAsync(host);
                    var floods = status.GetProperty("segments").EnumerateArray().ToDictionary(
                        s => s.GetProperty("vni").GetInt64(),
                        s => s.GetProperty("floodList").EnumerateArray().Select(v => v.GetString()!).Order().ToArray());
                    foreach (var (vni, hosts) in Shape.FloodLists.Where(f => f.Value.Contains(host)))
                    {
                        var expected = hosts.Where(h => h != host).Select(UnderlayIp).Order().ToArray();
                        if (!floods.TryGetValue(vni, out var actual) || !expected.SequenceEqual(actual))
                        {
                            return false;
                        }
                    }
                }

                return true;
            }, TimeSpan.FromSeconds(60), "every agent's flood lists (status file) hold the other agents of its segments");

            if (Shape.AfterConverged is { } after)
            {
                await after(this);
            }
        }
        catch (Exception ex)
        {
            string log = LogTail(6000);
            await DisposeAsync();
            throw new InvalidOperationException($"the lab did not come up: {ex.Message}\n--- process output (tail) ---\n{log}", ex);
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

        await Shell.RunAsync("bash", [LabScript, "down", "--prefix", Prefix, "--quiet"], TimeSpan.FromMinutes(1));
        Http?.Dispose();
        try
        {
            Directory.Delete(StatusDir, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    /// <summary>Runs deploy/lab/lab.sh with <c>--prefix</c> after the command; fails on a non-zero exit.</summary>
    public async Task LabAsync(params string[] args)
    {
        var result = await Shell.RunAsync("bash", [LabScript, args[0], "--prefix", Prefix, .. args[1..]], TimeSpan.FromMinutes(2));
        Assert.True(result.ExitCode == 0, $"lab.sh {string.Join(' ', args)} failed:\n{result.Output}");
    }

    /// <summary>The VTEP addresses of the segment's flood list, as the API reports it.</summary>
    public async Task<string[]> FloodListAsync(long vni)
    {
        var segment = await Http.GetFromJsonAsync<JsonElement>($"api/segments/{vni}");
        return segment.GetProperty("floodList").EnumerateArray().Select(e => e.GetProperty("vtep").GetString()!).ToArray();
    }

    /// <summary>The MAC table entry of <paramref name="mac"/> in <paramref name="vni"/>, if any.</summary>
    public async Task<JsonElement?> MacEntryAsync(long vni, string mac)
    {
        var table = await Http.GetFromJsonAsync<JsonElement>($"api/segments/{vni}/macs");
        foreach (var entry in table.GetProperty("entries").EnumerateArray())
        {
            if (string.Equals(entry.GetProperty("mac").GetString(), mac, StringComparison.OrdinalIgnoreCase))
            {
                return entry.Clone();
            }
        }

        return null;
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

    /// <summary>The VTEP that <paramref name="host"/>'s agent has for <paramref name="mac"/> in <paramref name="vni"/> (status file), or null.</summary>
    public async Task<string?> RemoteMacAsync(int host, long vni, string mac)
    {
        var status = await AgentStatusAsync(host);
        var segment = status.GetProperty("segments").EnumerateArray().FirstOrDefault(s => s.GetProperty("vni").GetInt64() == vni);
        return segment.ValueKind == JsonValueKind.Object && segment.GetProperty("remoteMacs").TryGetProperty(mac, out var vtep) ? vtep.GetString() : null;
    }

    /// <summary>A counter of the agent's VTEP socket (0 while it has never counted).</summary>
    public async Task<long> VtepCounterAsync(int host, string counter)
    {
        var status = await AgentStatusAsync(host);
        return status.GetProperty("vtep").TryGetProperty(counter, out var value) ? value.GetInt64() : 0;
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

    public async Task PutAsync(string path, string json)
    {
        using var content = new StringContent(json, Encoding.UTF8, "application/json");
        using var response = await Http.PutAsync(path, content);
        Assert.True(response.IsSuccessStatusCode, $"PUT {path}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
    }

    /// <summary>
    /// Starts a helper process inside <paramref name="ns"/>, kept (and ended by PID) with the lab,
    /// and waits until its output contains <paramref name="ready"/>.
    /// </summary>
    public async Task StartInNamespaceAsync(string name, string ns, string ready, params string[] command)
    {
        var seen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var process = StartProcess(name, "ip", ["netns", "exec", ns, .. command], line =>
        {
            if (line.Contains(ready, StringComparison.Ordinal))
            {
                seen.TrySetResult();
            }
        });
        var done = await Task.WhenAny(seen.Task, process.WaitForExitAsync(), Task.Delay(TimeSpan.FromSeconds(60)));
        Assert.True(done == seen.Task, $"{name} did not say '{ready}':\n{LogTail()}");
    }

    private void Start(string name, string dll, params string[] args) => StartProcess(name, "dotnet", [dll, .. args], null, Path.GetDirectoryName(dll));

    private Process StartProcess(string name, string file, string[] args, Action<string>? onLine, string? directory = null)
    {
        var start = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = directory ?? AppContext.BaseDirectory,
        };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {name}");
        process.OutputDataReceived += (_, e) =>
        {
            Append(name, e.Data);
            if (e.Data is { } line)
            {
                onLine?.Invoke(line);
            }
        };
        process.ErrorDataReceived += (_, e) => Append(name, e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _processes.Add(process);
        return process;
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
}
