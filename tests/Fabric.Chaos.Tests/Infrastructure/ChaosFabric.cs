using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Fabric.Chaos.Tests;

/// <summary>
/// One fabric shared by every chaos case (a fixture over Fabric.Testing's <see cref="FabricDeployment"/>):
/// Azurite (in memory, paused with SIGSTOP to take storage away), three silo processes in AzureTable
/// mode, a 3-host × 3-VM namespace lab and one agent per host in AzureTable mode. Port groups: web
/// (VNI 5001, vm1 and vm3, MAC limit 8) and db (VNI 5002, vm2). Host 2 has a spare port "mv"
/// (lab.sh port) bound to web, for the VM move case. Processes are started, killed and paused by
/// PID only; the lab is removed by its prefix.
/// </summary>
public sealed class ChaosFabric : IAsyncLifetime
{
    public const int Hosts = 3;
    public const long WebVni = 5001;
    public const long DbVni = 5002;
    public const int WebMacLimit = 8;
    public const string SparePort = "mv";
    public const int SpareHost = 2;
    public const string NewVmPort = "nv";

    private static readonly TimeSpan SiloHttpTimeout = TimeSpan.FromSeconds(15);

    private readonly StringBuilder _events = new();
    private FabricDeployment? _fabric;

    /// <summary>The deployment: lab, Azurite, silos, agents.</summary>
    public FabricDeployment Fabric => _fabric ?? throw new InvalidOperationException("the chaos fabric is not up");

    public string Prefix => Fabric.Lab.Prefix;

    public string WorkDir => Fabric.WorkDir;

    /// <summary>The Azurite process (pause it to take storage away).</summary>
    public TestProcess? Azurite => Fabric.Storage?.Process;

    /// <summary>The three silos by slot (0..2), as <c>silo1</c>..<c>silo3</c>; a slot keeps its ports across restarts.</summary>
    public IReadOnlyList<SiloProcess?> Silos => Fabric.Silos;

    /// <summary>The agent of each host (index 0 unused).</summary>
    public IReadOnlyList<AgentProcess?> Agents => Fabric.Agents;

    public string UnderlayIp(int host) => Fabric.Lab.UnderlayIp(host);

    public string VmIp(int host, int vm) => Fabric.Lab.VmIp(host, vm);

    public string VmMac(int host, int vm) => Fabric.Lab.VmMac(host, vm);

    public string VmNamespace(int host, int vm) => Fabric.Lab.VmNamespace(host, vm);

    public string HostNamespace(int host) => Fabric.Lab.HostNamespace(host);

    public string UnderlayNamespace => Fabric.Lab.UnderlayNamespace;

    public async Task InitializeAsync()
    {
        try
        {
            var clock = Stopwatch.StartNew();
            _fabric = await FabricDeployment.UpAsync("cx", Hosts, vms: 3, groups: 2);
            await Fabric.Lab.AddPortAsync(SpareHost, SparePort);
            await Fabric.Lab.AddPortAsync(SpareHost, NewVmPort);
            Event($"lab up in {clock.Elapsed.TotalSeconds:F1} s");
            await Fabric.UseStorageAsync();

            for (int i = 0; i < 3; i++)
            {
                StartSilo(i);
            }

            await Fabric.WaitSilosHealthyAsync(TimeSpan.FromSeconds(120));
            Event($"3 silos healthy at {clock.Elapsed.TotalSeconds:F1} s");
            // The cases send from extra MACs behind a VM's port (new guests, a flapping MAC, a MAC flood):
            // the port groups allow forged transmits, so the MAC limit and mobility are what they meet.
            await Fabric.ConfigureSwitchAsync(
            [
                new("web", $"{{\"vni\":{WebVni},\"security\":{{\"macLimit\":{WebMacLimit},\"allowForgedTransmits\":true}}}}"),
                new("db", $$$"""{"vni":{{{DbVni}}},"security":{"allowForgedTransmits":true}}"""),
            ]);
            for (int host = 1; host <= Hosts; host++)
            {
                StartAgent(host);
            }

            await WaitConvergedAsync(TimeSpan.FromSeconds(90));
            Event($"agents converged at {clock.Elapsed.TotalSeconds:F1} s");

            // Every VM talks once, so every MAC table holds every VM.
            await Task.WhenAll(Enumerable.Range(1, Hosts).SelectMany(h => new[] { 1, 2, 3 }.Select(vm =>
                Shell.InNamespaceAsync(VmNamespace(h, vm), $"ping -c 2 -i 0.2 -W 1 {VmIp(h % Hosts + 1, vm)} >/dev/null"))));
            await Eventually.WaitAsync(async () => (await SendAsync(HttpMethod.Get, "api/switches/dvs")).Body.Contains("\"appliedOnEveryHost\":true", StringComparison.Ordinal), TimeSpan.FromSeconds(30), "configuration applied on every host");
            Event($"fabric ready in {clock.Elapsed.TotalSeconds:F1} s");
            lock (_events)
            {
                File.AppendAllText(Results.File, string.Join(Environment.NewLine, _events.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => l.Contains(" at ") || l.Contains(" in ")).Select(l => $"[fixture] {l.Trim()}")) + Environment.NewLine);
            }
        }
        catch (Exception ex)
        {
            string diagnostics = _fabric is null ? string.Empty : Diagnostics();
            await DisposeAsync();
            throw new InvalidOperationException($"the chaos fabric did not come up: {ex.Message}\n{diagnostics}", ex);
        }
    }

    public async Task DisposeAsync()
    {
        if (Interlocked.Exchange(ref _fabric, null) is { } fabric)
        {
            SaveLogs(fabric);
            await fabric.DisposeAsync();
        }
    }

    /// <summary>Every process's output and the events, to $TMPDIR/fabric-chaos-logs/ (for failures).</summary>
    private void SaveLogs(FabricDeployment fabric)
    {
        try
        {
            string dir = Directory.CreateDirectory(Path.Combine(Path.GetTempPath(), "fabric-chaos-logs")).FullName;
            lock (_events)
            {
                File.WriteAllText(Path.Combine(dir, "events.txt"), _events.ToString());
            }

            foreach (var silo in fabric.Silos.OfType<SiloProcess>())
            {
                File.WriteAllText(Path.Combine(dir, $"{silo.Name}.txt"), silo.Output.Text);
            }

            for (int host = 1; host <= Hosts; host++)
            {
                if (fabric.Agents[host] is { } agent)
                {
                    File.WriteAllText(Path.Combine(dir, $"agent-h{host}.txt"), agent.Output.Text);
                }
            }
        }
        catch (IOException)
        {
        }
    }

    public void Event(string text)
    {
        lock (_events)
        {
            _events.Append(DateTime.UtcNow.ToString("HH:mm:ss.fff ")).AppendLine(text);
        }
    }

    // ---- processes -------------------------------------------------------------------------

    /// <summary>Starts silo slot <paramref name="index"/> (0..2) on its own fixed ports; the output of a previous process goes to the events.</summary>
    public void StartSilo(int index)
    {
        if (Fabric.Silos.ElementAtOrDefault(index) is { } previous)
        {
            lock (_events)
            {
                _events.AppendLine($"--- output of {previous.Name} pid {previous.Pid} ---").AppendLine(previous.Tail(60));
            }
        }

        var silo = Fabric.StartSilo(index, SiloHttpTimeout);
        Event($"{silo.Name} started pid {silo.Pid}");
    }

    public void KillSilo(int index)
    {
        var silo = Fabric.Silos[index];
        Event($"silo{index + 1} kill -9 pid {silo?.Pid}");
        Fabric.KillSilo(index);
    }

    /// <summary>Waits until every silo is healthy.</summary>
    public Task WaitSilosHealthyAsync(TimeSpan timeout) => Fabric.WaitSilosHealthyAsync(timeout);

    public void StartAgent(int host)
    {
        var ports = new List<PortBinding> { new("vm1", "web"), new("vm2", "db"), new("vm3", "web") };
        if (host == SpareHost)
        {
            ports.Add(new(SparePort, "web"));
            ports.Add(new(NewVmPort, "web"));
        }

        if (Fabric.Agents[host] is { } previous)
        {
            lock (_events)
            {
                _events.AppendLine($"--- output of agent h{host} pid {previous.Pid} ---").AppendLine(previous.Tail(60));
            }
        }

        var agent = Fabric.StartAgent(host, ports);
        Event($"agent h{host} started pid {agent.Pid}");
    }

    public void KillAgent(int host)
    {
        Event($"agent h{host} kill -9 pid {Fabric.Agents[host]?.Pid}");
        Fabric.KillAgent(host);
    }

    /// <summary>Every silo healthy, every agent running, both flood lists holding the three hosts.</summary>
    public async Task WaitConvergedAsync(TimeSpan timeout)
    {
        var everyHost = Enumerable.Range(1, Hosts).ToArray();
        var floodLists = new Dictionary<long, int[]> { [WebVni] = everyHost, [DbVni] = everyHost };
        await Eventually.WaitAsync(
            async () => await Fabric.FloodListsHoldAsync(floodLists) && Fabric.Agents.Skip(1).All(a => a is { HasExited: false }),
            timeout,
            "both flood lists hold every host");
    }

    /// <summary>The grains the running silos could not re-activate (from their logs), e.g. "host/h1, mactable/1389".</summary>
    public string UnreadableGrains() => string.Join(", ", Silos.OfType<SiloProcess>()
        .SelectMany(s => Regex.Matches(s.Output.Text, @"ReadStateAsync for grain (\S+?)(\(|\s|$)").Select(m => m.Groups[1].Value))
        .Distinct().Order());

    // ---- API -----------------------------------------------------------------------------

    /// <summary>Sends to the first silo that answers (silos come and go in these tests).</summary>
    public async Task<(HttpStatusCode Status, string Body, string? ContentType)> SendFullAsync(HttpMethod method, string path, string? json = null, string contentType = "application/json")
    {
        var (status, body, type) = await Fabric.Api.SendAsync(method, path, json, contentType);
        return (status, body, type);
    }

    public async Task<(HttpStatusCode Status, string Body)> SendAsync(HttpMethod method, string path, string? json = null)
    {
        var (status, body, _) = await Fabric.Api.SendAsync(method, path, json);
        return (status, body);
    }

    public Task<string> CheckedAsync(HttpMethod method, string path, string? json = null) => Fabric.Api.CheckedAsync(method, path, json);

    /// <summary>The MAC table entries of <paramref name="vni"/>: MAC → entry.</summary>
    public Task<Dictionary<string, JsonElement>> MacTableAsync(long vni) => Fabric.Api.MacTableAsync(vni);

    // ---- agents' status files ---------------------------------------------------------------

    /// <summary>Host <paramref name="host"/>'s agent status file.</summary>
    public AgentStatusFile Status(int host) => Fabric.Status(host);

    /// <summary>Host <paramref name="host"/>'s agent status as the file holds it now (up to a second old).</summary>
    public Task<AgentStatus> AgentStatusAsync(int host) => Status(host).ReadAsync();

    /// <summary>The VTEP that <paramref name="host"/>'s agent has for <paramref name="mac"/> in <paramref name="vni"/>, or null.</summary>
    public async Task<string?> RemoteMacAsync(int host, long vni, string mac) => (await AgentStatusAsync(host)).RemoteMac(vni, mac);

    // ---- helpers -------------------------------------------------------------------------

    public Task LabAsync(params string[] args) => Fabric.Lab.RunAsync(args[0], args[1..]);

    public string Diagnostics(int lines = 25)
    {
        var text = new StringBuilder();
        lock (_events)
        {
            text.AppendLine("--- events").Append(_events);
        }

        // What explains a data-plane gap: host deaths and revivals, agents losing and regaining the cluster.
        string[] keys = ["declared dead", "heard from again", "Control plane unreachable", "Re-synchronizing", "synchronized with the cluster"];
        text.AppendLine("--- control-plane events");
        foreach (var (name, output) in Fabric.Silos.OfType<SiloProcess>().Select(s => (s.Name, s.Output.Text))
            .Concat(Fabric.Agents.OfType<AgentProcess>().Select(a => (a.Name, a.Output.Text))))
        {
            var logLines = output.Split('\n');
            for (int i = 0; i < logLines.Length; i++)
            {
                if (keys.Any(k => logLines[i].Contains(k, StringComparison.Ordinal)))
                {
                    // The console logger puts the timestamp on the line before the message.
                    string stamp = i > 0 ? logLines[i - 1].Split(' ', 2)[0] : "";
                    text.Append(name).Append(' ').Append(stamp).Append(' ').AppendLine(logLines[i].Trim());
                }
            }
        }

        return text.Append(Fabric.Diagnostics(lines)).ToString();
    }
}

[CollectionDefinition(Name)]
public sealed class ChaosCollection : ICollectionFixture<ChaosFabric>
{
    public const string Name = "chaos fabric";
}
