using System.Globalization;

namespace Fabric.Testing;

/// <summary>One local interface of a host bound to a port group in that host's agent.</summary>
/// <param name="Interface">The interface (<c>Fabric:Agent:Ports:N:Interface</c>).</param>
/// <param name="PortGroup">The port group (<c>Fabric:Agent:Ports:N:PortGroup</c>).</param>
/// <param name="Mac">
/// The MAC of the VM behind the port (<c>Fabric:Agent:Ports:N:Mac</c>), if configured: with forged
/// transmits rejected the port forwards only frames from it. Null: not configured.
/// </param>
public sealed record PortBinding(string Interface, string PortGroup, string? Mac = null);

/// <summary>What a host agent is started with: its identity, data plane, files, ports, and how it finds the cluster.</summary>
public sealed record AgentSpec
{
    /// <summary>The host id (<c>Fabric:Agent:HostId</c>).</summary>
    public required string HostId { get; init; }

    /// <summary>The VTEP's underlay address.</summary>
    public required string VtepAddress { get; init; }

    /// <summary>The switch the host joins. Defaults to "dvs".</summary>
    public string Switch { get; init; } = "dvs";

    /// <summary>The network namespace the data plane works in (the host's, in the lab); null for the agent's own.</summary>
    public string? NetworkNamespace { get; init; }

    /// <summary>The status file the agent rewrites every second (read with <see cref="AgentStatusFile"/>).</summary>
    public required string StatusFile { get; init; }

    /// <summary>Where the agent keeps its last forwarding tables for a warm restart, if anywhere.</summary>
    public string? ForwardingCacheFile { get; init; }

    /// <summary>The unix socket of the agent's local port API (<c>Fabric:Agent:LocalApiSocket</c>), if any.</summary>
    public string? LocalApiSocket { get; init; }

    /// <summary>Where the agent keeps the ports attached at run time (<c>Fabric:Agent:RuntimePortsFile</c>), if anywhere.</summary>
    public string? RuntimePortsFile { get; init; }

    /// <summary>The local ports and their port groups.</summary>
    public IReadOnlyList<PortBinding> Ports { get; init; } = [];

    /// <summary>How the agent finds the cluster: <c>Fabric:Cluster:*</c> and <c>Fabric:Storage:*</c> settings.</summary>
    public IReadOnlyDictionary<string, string> Cluster { get; init; } = new Dictionary<string, string>();

    /// <summary>
    /// Further settings by their full key (e.g. <c>Fabric:Agent:MacAgingTime</c> → <c>00:00:04</c>),
    /// passed last, so they win over the ones above.
    /// </summary>
    public IReadOnlyDictionary<string, string> Settings { get; init; } = new Dictionary<string, string>();

    /// <summary>
    /// The agent's management endpoint (<c>Fabric:Agent:ManagementUrl</c>): by default a free loopback
    /// port of its own, so several agents on one machine never share one (the agent's default, 9650, would).
    /// </summary>
    public string ManagementUrl { get; init; } = $"http://127.0.0.1:{FreePorts.Tcp()}";

    /// <summary>The command line (<c>--Key value</c> pairs).</summary>
    public IEnumerable<string> Arguments()
    {
        var settings = new List<(string, string)>(Cluster.Select(kv => (kv.Key, kv.Value)))
        {
            ("Fabric:Agent:HostId", HostId),
            ("Fabric:Agent:VtepAddress", VtepAddress),
            ("Fabric:Agent:Switch", Switch),
            ("Fabric:Agent:StatusFile", StatusFile),
            ("Fabric:Agent:ManagementUrl", ManagementUrl),
            ("Logging:Console:TimestampFormat", "HH:mm:ss.fff "),
        };
        if (NetworkNamespace is { } ns)
        {
            settings.Add(("Fabric:Agent:NetworkNamespace", ns));
        }

        if (ForwardingCacheFile is { } cache)
        {
            settings.Add(("Fabric:Agent:ForwardingCacheFile", cache));
        }

        if (LocalApiSocket is { } socket)
        {
            settings.Add(("Fabric:Agent:LocalApiSocket", socket));
        }

        if (RuntimePortsFile is { } portsFile)
        {
            settings.Add(("Fabric:Agent:RuntimePortsFile", portsFile));
        }

        for (int i = 0; i < Ports.Count; i++)
        {
            string index = i.ToString(CultureInfo.InvariantCulture);
            settings.Add(($"Fabric:Agent:Ports:{index}:Interface", Ports[i].Interface));
            settings.Add(($"Fabric:Agent:Ports:{index}:PortGroup", Ports[i].PortGroup));
            if (Ports[i].Mac is { } mac)
            {
                settings.Add(($"Fabric:Agent:Ports:{index}:Mac", mac));
            }
        }

        settings.AddRange(Settings.Select(kv => (kv.Key, kv.Value)));

        return settings.SelectMany(s => new[] { "--" + s.Item1, s.Item2 });
    }
}

/// <summary>
/// One <c>dotnet Fabric.HostAgent.dll</c> process from the built output, known by its PID, with
/// its status file. Killed (SIGKILL, a crash) or stopped gracefully; a restart is a new process
/// from the same <see cref="Spec"/>.
/// </summary>
public sealed class AgentProcess : FabricProcess
{
    /// <summary>What the agent logs once it has registered and has the cluster's tables.</summary>
    public const string SynchronizedLine = "synchronized with the cluster";

    private AgentProcess(string name, AgentSpec spec, TestProcess process)
        : base(name, process)
    {
        Spec = spec;
        Status = new AgentStatusFile(spec.StatusFile);
    }

    /// <summary>What it was started with.</summary>
    public AgentSpec Spec { get; }

    /// <summary>The agent's status file.</summary>
    public AgentStatusFile Status { get; }

    /// <summary>Starts the agent.</summary>
    /// <param name="sharedLog">A fixture's log that also gets the agent's output.</param>
    public static AgentProcess Start(string name, AgentSpec spec, OutputLog? sharedLog = null)
        => new(name, spec, TestProcess.StartDotnet(name, BuiltOutputs.AgentDll, spec.Arguments(), new TestProcessOptions { SharedLog = sharedLog }));

    /// <summary>Waits until the agent logged <see cref="SynchronizedLine"/>; fails at once if it exits.</summary>
    public Task WaitSynchronizedAsync(TimeSpan timeout) => Process.WaitForOutputAsync(SynchronizedLine, timeout);
}
