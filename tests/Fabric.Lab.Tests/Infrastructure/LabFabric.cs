using System.Text.Json;

namespace Fabric.Lab.Tests;

/// <summary>
/// A whole local fabric built from a <see cref="LabShape"/> (a fixture over Fabric.Testing's
/// <see cref="FabricDeployment"/>): the namespace lab, a silo process on loopback, switch "dvs" and
/// its port groups created through the API, one agent process per agent host whose data plane works
/// inside that host's namespace, and optionally Linux kernel VTEPs on the other hosts. Built once
/// per fixture, torn down always (processes by PID, namespaces by prefix).
/// </summary>
public abstract class LabFabric(LabShape shape) : IAsyncLifetime
{
    private FabricDeployment? _fabric;

    public LabShape Shape { get; } = shape;

    /// <summary>The deployment: lab, silo, agents, the log of every process.</summary>
    public FabricDeployment Fabric => _fabric ?? throw new InvalidOperationException("the lab is not up");

    public string Prefix => Fabric.Lab.Prefix;

    public IReadOnlyDictionary<string, string> Env => Fabric.Lab.Env;

    /// <summary>An HTTP client on the silo's API.</summary>
    public HttpClient Http => Fabric.Silos[0]!.Http;

    /// <summary>A directory of this lab (status files, captures), removed with it.</summary>
    public string StatusDir => Fabric.WorkDir;

    /// <summary>Every process's output.</summary>
    public string Log => Fabric.Log.Text;

    public string LogTail(int chars = 4000)
    {
        string log = Log;
        return log[Math.Max(0, log.Length - chars)..];
    }

    public string UnderlayNamespace => Fabric.Lab.UnderlayNamespace;

    public string UnderlayIp(int host) => Fabric.Lab.UnderlayIp(host);

    public string VmIp(int host, int vm) => Fabric.Lab.VmIp(host, vm);

    public string VmMac(int host, int vm) => Fabric.Lab.VmMac(host, vm);

    public string VmNamespace(int host, int vm) => Fabric.Lab.VmNamespace(host, vm);

    public string HostNamespace(int host) => Fabric.Lab.HostNamespace(host);

    /// <summary>Host <paramref name="host"/>'s agent status file.</summary>
    public AgentStatusFile Status(int host) => Fabric.Status(host);

    public async Task InitializeAsync()
    {
        try
        {
            _fabric = await FabricDeployment.UpAsync(Shape.Stem, Shape.Hosts, Shape.Vms, Shape.Groups, Shape.VmOffloads);
            if (Shape.Kernel is { } kernel)
            {
                await Fabric.Lab.KernelAsync([.. kernel]);
            }

            if (Shape.Prepare is { } prepare)
            {
                await prepare(this);
            }

            await Fabric.StartSilo(0).WaitHealthyAsync(TimeSpan.FromSeconds(90));
            await Fabric.ConfigureSwitchAsync(Shape.PortGroups);
            foreach (var (host, ports) in Shape.Agents.OrderBy(a => a.Key))
            {
                Fabric.StartAgent(host, ports, Shape.AgentSettings);
            }

            // Converged when every segment's flood list holds exactly the expected agent hosts ...
            await Fabric.WaitFloodListsAsync(Shape.FloodLists, TimeSpan.FromSeconds(60));

            // ... and every agent's own tables (status file) have the other agents of its segments.
            await Fabric.WaitAgentFloodListsAsync(Shape.FloodLists, Shape.Agents.Keys, TimeSpan.FromSeconds(60));

            if (Shape.AfterConverged is { } after)
            {
                await after(this);
            }
        }
        catch (Exception ex)
        {
            string log = _fabric is null ? string.Empty : LogTail(6000);
            await DisposeAsync();
            throw new InvalidOperationException($"the lab did not come up: {ex.Message}\n--- process output (tail) ---\n{log}", ex);
        }
    }

    public async Task DisposeAsync()
    {
        if (Interlocked.Exchange(ref _fabric, null) is { } fabric)
        {
            await fabric.DisposeAsync();
        }
    }

    /// <summary>Runs deploy/lab/lab.sh with <c>--prefix</c> after the command; fails on a non-zero exit.</summary>
    public Task LabAsync(params string[] args) => Fabric.Lab.RunAsync(args[0], args[1..]);

    /// <summary>The VTEP addresses of the segment's flood list, as the API reports it.</summary>
    public Task<string[]> FloodListAsync(long vni) => Fabric.Api.FloodListAsync(vni);

    /// <summary>The MAC table entry of <paramref name="mac"/> in <paramref name="vni"/>, if any.</summary>
    public Task<JsonElement?> MacEntryAsync(long vni, string mac) => Fabric.Api.MacEntryAsync(vni, mac);

    /// <summary>Host <paramref name="host"/>'s agent status as the file holds it now (up to a second old).</summary>
    public Task<AgentStatus> AgentStatusAsync(int host) => Status(host).ReadAsync();

    /// <summary>The VTEP that <paramref name="host"/>'s agent has for <paramref name="mac"/> in <paramref name="vni"/> (status file), or null.</summary>
    public async Task<string?> RemoteMacAsync(int host, long vni, string mac) => (await AgentStatusAsync(host)).RemoteMac(vni, mac);

    public Task PutAsync(string path, string json) => Fabric.Api.PutAsync(path, json);

    /// <summary>The MAC VM <paramref name="vm"/> of host <paramref name="host"/> has in its ARP cache for <paramref name="ip"/>, or null.</summary>
    public async Task<string?> NeighbourAsync(int host, int vm, string ip)
    {
        string line = await Shell.CheckedAsync(VmNamespace(host, vm), $"ip neigh show {ip} dev eth0");
        var words = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        int at = Array.IndexOf(words, "lladdr");
        return at >= 0 && at + 1 < words.Length ? words[at + 1].ToLowerInvariant() : null;
    }

    /// <summary>
    /// Starts a helper process inside <paramref name="ns"/>, kept (and ended by PID) with the lab,
    /// and waits until its output contains <paramref name="ready"/>.
    /// </summary>
    public Task StartInNamespaceAsync(string name, string ns, string ready, params string[] command) => Fabric.StartHelperAsync(name, ns, ready, command);
}
