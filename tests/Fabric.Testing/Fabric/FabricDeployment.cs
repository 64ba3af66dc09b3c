using System.Text;

namespace Fabric.Testing;

/// <summary>A port group created through the API: its name and its JSON body.</summary>
public sealed record PortGroupSpec(string Name, string Body);

/// <summary>
/// A whole fabric on a namespace lab: the lab, silo processes on loopback (embedded clustering, or
/// Azure Table clustering on an Azurite), one agent process per host whose data plane works inside
/// that host's namespace, and one log of every process's output. Silos keep their ports across
/// restarts (a slot per silo); an agent restarts with the ports it had. Processes are started and
/// ended by PID; disposing ends them all, removes the lab by its prefix and the work directory.
/// </summary>
public sealed class FabricDeployment : IAsyncDisposable
{
    /// <summary>The switch every deployment configures.</summary>
    public const string Switch = "dvs";

    private readonly List<SiloProcess?> _silos = [];
    private readonly List<SiloPorts> _siloPorts = [];
    private readonly AgentProcess?[] _agents;
    private readonly List<TestProcess> _helpers = [];
    private int _disposed;

    private FabricDeployment(NamespaceLab lab, int hosts)
    {
        Lab = lab;
        Hosts = hosts;
        _agents = new AgentProcess?[hosts + 1];
        ClusterId = $"fabric-{lab.Prefix}-{Guid.NewGuid():N}"[..32];
        Api = new FabricApi(() => _silos.Where(s => s is { HasExited: false }).Select(s => s!.Http));
    }

    /// <summary>The namespace lab.</summary>
    public NamespaceLab Lab { get; }

    /// <summary>How many hosts the lab has (numbered from 1).</summary>
    public int Hosts { get; }

    /// <summary>Every process's output, as <c>time name: line</c>.</summary>
    public OutputLog Log { get; } = new(4 << 20, timestamps: true);

    /// <summary>A directory of this deployment (status files, captures), removed on dispose.</summary>
    public string WorkDir { get; } = Directory.CreateTempSubdirectory("fabric-deployment-").FullName;

    /// <summary>The Orleans cluster id of the silos and agents, unique to this deployment.</summary>
    public string ClusterId { get; }

    /// <summary>The Azurite the cluster keeps membership and state in, after <see cref="UseStorageAsync"/>.</summary>
    public Azurite? Storage { get; private set; }

    /// <summary>The management API of the running silos.</summary>
    public FabricApi Api { get; }

    /// <summary>The silo of each slot (null until started).</summary>
    public IReadOnlyList<SiloProcess?> Silos => _silos;

    /// <summary>The agent of each host, indexed by host number (index 0 unused; null until started).</summary>
    public IReadOnlyList<AgentProcess?> Agents => _agents;

    /// <summary>The silos' configuration: the cluster id, and in storage mode the AzureTable mode and connection string.</summary>
    public IReadOnlyDictionary<string, string> SiloSettings => Storage is { } storage
        ? new Dictionary<string, string>
        {
            ["Fabric:Cluster:Mode"] = "AzureTable",
            ["Fabric:Cluster:ClusterId"] = ClusterId,
            ["Fabric:Storage:ConnectionString"] = storage.ConnectionString,
        }
        : new Dictionary<string, string> { ["Fabric:Cluster:ClusterId"] = ClusterId };

    /// <summary>How agents find the cluster: through the storage in storage mode, else the first silo's gateway.</summary>
    public IReadOnlyDictionary<string, string> AgentClusterSettings => Storage is not null
        ? SiloSettings
        : new Dictionary<string, string>
        {
            ["Fabric:Cluster:Gateways:0"] = $"127.0.0.1:{PortsOf(0).Gateway}",
            ["Fabric:Cluster:ClusterId"] = ClusterId,
        };

    /// <summary>Brings the lab up (see <see cref="NamespaceLab.UpAsync"/>); nothing runs yet.</summary>
    public static async Task<FabricDeployment> UpAsync(string stem, int hosts, int vms, int groups, bool vmOffloads = true)
        => new(await NamespaceLab.UpAsync(stem, hosts, vms, groups, vmOffloads), hosts);

    /// <summary>Host <paramref name="host"/>'s agent status file.</summary>
    public string StatusFile(int host) => Path.Combine(WorkDir, $"h{host}.json");

    /// <summary>Host <paramref name="host"/>'s agent status.</summary>
    public AgentStatusFile Status(int host) => new(StatusFile(host));

    /// <summary>Starts Azurite; silos and agents started from now on keep membership and state there.</summary>
    public async Task UseStorageAsync() => Storage = await Azurite.StartAsync(sharedLog: Log);

    /// <summary>
    /// Starts the silo of <paramref name="slot"/> (0-based) on the slot's ports, as <c>silo{slot+1}</c>;
    /// a previous process of the slot is killed and released first.
    /// </summary>
    public SiloProcess StartSilo(int slot, TimeSpan? httpTimeout = null)
    {
        var ports = PortsOf(slot);
        if (_silos[slot] is { } previous)
        {
            previous.Dispose();
        }

        var silo = SiloProcess.Start($"silo{slot + 1}", SiloSettings, ports, Log, httpTimeout);
        _silos[slot] = silo;
        return silo;
    }

    /// <summary>SIGKILL to the silo of <paramref name="slot"/> (its slot keeps it, exited, until restarted).</summary>
    public void KillSilo(int slot) => _silos[slot]?.Kill();

    /// <summary>Whether every started silo runs and answers <c>/healthz</c> with 200 now.</summary>
    public async Task<bool> SilosHealthyAsync()
        => (await Task.WhenAll(_silos.Select(s => s is null ? Task.FromResult(false) : s.IsHealthyAsync()))).All(healthy => healthy);

    /// <summary>Waits until every started silo is healthy.</summary>
    public Task WaitSilosHealthyAsync(TimeSpan timeout)
        => Eventually.WaitAsync(SilosHealthyAsync, timeout, $"every silo healthy ({_silos.Count})");

    /// <summary>Creates switch <see cref="Switch"/> (MTU 1450, the lab's VM MTU) and its port groups.</summary>
    public async Task ConfigureSwitchAsync(IEnumerable<PortGroupSpec> portGroups)
    {
        await Api.PutAsync($"api/switches/{Switch}", """{"mtu":1450}""");
        foreach (var group in portGroups)
        {
            await Api.PutAsync($"api/switches/{Switch}/portgroups/{group.Name}", group.Body);
        }
    }

    /// <summary>Host <paramref name="host"/>'s forwarding cache file (<c>Fabric:Agent:ForwardingCacheFile</c>).</summary>
    public AgentForwardingCache ForwardingCache(int host) => new(Path.Combine(WorkDir, $"h{host}-forwarding.json"));

    /// <summary>
    /// Waits until every live host's agent has applied the switch's configuration version (the API's
    /// <c>appliedOnEveryHost</c>): after a port group changed, agents forward on the new policy.
    /// </summary>
    public Task WaitAppliedOnEveryHostAsync(TimeSpan timeout)
        => Eventually.WaitAsync(() => Api.AppliedOnEveryHostAsync(Switch), timeout, $"switch {Switch}'s configuration applied on every host");

    /// <summary>
    /// Starts host <paramref name="host"/>'s agent with <paramref name="ports"/> and further
    /// <paramref name="settings"/> (see <see cref="AgentSpec.Settings"/>; when null, what it had: a
    /// restart), its data plane in the host's namespace; a previous process is killed first.
    /// </summary>
    public AgentProcess StartAgent(int host, IReadOnlyList<PortBinding>? ports = null, IReadOnlyDictionary<string, string>? settings = null)
    {
        var previous = _agents[host];
        ports ??= previous?.Spec.Ports ?? throw new InvalidOperationException($"agent h{host} has no ports to restart with");
        settings ??= previous?.Spec.Settings ?? new Dictionary<string, string>();
        if (previous is not null)
        {
            previous.Dispose();
        }

        var spec = new AgentSpec
        {
            HostId = $"h{host}",
            VtepAddress = Lab.UnderlayIp(host),
            Switch = Switch,
            NetworkNamespace = Lab.HostNamespace(host),
            StatusFile = StatusFile(host),
            ForwardingCacheFile = ForwardingCache(host).Path,
            LocalApiSocket = LocalApiSocket(host),
            RuntimePortsFile = Path.Combine(WorkDir, $"h{host}-ports.json"),
            Ports = ports,
            Cluster = AgentClusterSettings,
            Settings = settings,
        };
        var agent = AgentProcess.Start($"agent h{host}", spec, Log);
        _agents[host] = agent;
        return agent;
    }

    /// <summary>The unix socket of host <paramref name="host"/>'s local port API.</summary>
    public string LocalApiSocket(int host) => Path.Combine(WorkDir, $"h{host}-agent.sock");

    /// <summary>A client of host <paramref name="host"/>'s local port API.</summary>
    public LocalPortClient LocalPorts(int host) => new(LocalApiSocket(host));

    /// <summary>SIGKILL to host <paramref name="host"/>'s agent.</summary>
    public void KillAgent(int host) => _agents[host]?.Kill();

    /// <summary>
    /// Starts a helper process inside <paramref name="ns"/> (its output in <see cref="Log"/>), ended
    /// with the deployment, and waits until its output contains <paramref name="ready"/>.
    /// </summary>
    public async Task<TestProcess> StartHelperAsync(string name, string ns, string ready, params string[] command)
    {
        var process = TestProcess.StartInNamespace(name, ns, command, new TestProcessOptions { SharedLog = Log });
        lock (_helpers)
        {
            _helpers.Add(process);
        }

        await process.WaitForOutputAsync(ready, TimeSpan.FromSeconds(60));
        return process;
    }

    /// <summary>Whether every listed segment's flood list (as the API shows it) holds exactly the VTEPs of its hosts now.</summary>
    public async Task<bool> FloodListsHoldAsync(IReadOnlyDictionary<long, int[]> floodLists)
    {
        foreach (var (vni, hosts) in floodLists)
        {
            if (!hosts.Select(Lab.UnderlayIp).Order().SequenceEqual((await Api.FloodListAsync(vni)).Order()))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Waits until <see cref="FloodListsHoldAsync"/>.</summary>
    public Task WaitFloodListsAsync(IReadOnlyDictionary<long, int[]> floodLists, TimeSpan timeout)
        => Eventually.WaitAsync(() => FloodListsHoldAsync(floodLists), timeout, "every agent in the flood lists of its segments");

    /// <summary>
    /// Waits until every agent's own tables (status file) have, for each of its segments, the other
    /// agent hosts of <paramref name="floodLists"/>.
    /// </summary>
    public Task WaitAgentFloodListsAsync(IReadOnlyDictionary<long, int[]> floodLists, IEnumerable<int> agentHosts, TimeSpan timeout) => Eventually.WaitAsync(
        async () =>
        {
            foreach (int host in agentHosts)
            {
                var status = await Status(host).ReadAsync();
                foreach (var (vni, hosts) in floodLists.Where(f => f.Value.Contains(host)))
                {
                    var expected = hosts.Where(h => h != host).Select(Lab.UnderlayIp).Order();
                    if (status.Segment(vni) is not { } segment || !expected.SequenceEqual(segment.FloodList.Order()))
                    {
                        return false;
                    }
                }
            }

            return true;
        },
        timeout,
        "every agent's flood lists (status file) hold the other agents of its segments");

    /// <summary>The state and last output lines of every silo and agent, for failure messages.</summary>
    public string Diagnostics(int lines = 25)
    {
        var text = new StringBuilder();
        foreach (var silo in _silos.OfType<SiloProcess>())
        {
            text.AppendLine($"--- {silo.Name} pid {silo.Pid} http {silo.HttpPort} silo {silo.SiloPort} gateway {silo.GatewayPort} exited={silo.HasExited}").AppendLine(silo.Tail(lines));
        }

        foreach (var agent in _agents.OfType<AgentProcess>())
        {
            text.AppendLine($"--- {agent.Name} pid {agent.Pid} exited={agent.HasExited}").AppendLine(agent.Tail(lines));
        }

        if (Storage is { } storage)
        {
            text.AppendLine($"--- azurite pid {storage.Process.Pid} exited={storage.Process.HasExited}").AppendLine(storage.Process.Tail(10));
        }

        return text.ToString();
    }

    /// <summary>Ends every process by PID, removes the lab by its prefix and the work directory.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        lock (_helpers)
        {
            _helpers.ForEach(h => h.Dispose());
        }

        foreach (var agent in _agents.OfType<AgentProcess>())
        {
            await agent.DisposeAsync();
        }

        foreach (var silo in _silos.OfType<SiloProcess>())
        {
            await silo.DisposeAsync();
        }

        if (Storage is { } storage)
        {
            await storage.DisposeAsync();
        }

        await Lab.DisposeAsync();
        try
        {
            Directory.Delete(WorkDir, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private SiloPorts PortsOf(int slot)
    {
        while (_siloPorts.Count <= slot)
        {
            _siloPorts.Add(SiloPorts.Free());
            _silos.Add(null);
        }

        return _siloPorts[slot];
    }
}
