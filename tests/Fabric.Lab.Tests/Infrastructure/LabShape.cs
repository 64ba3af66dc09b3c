namespace Fabric.Lab.Tests;

/// <summary>
/// What a <see cref="LabFabric"/> builds: the namespace lab (<c>lab.sh up</c>), the port groups of
/// switch "dvs", which hosts run an agent with which ports, which hosts are Linux kernel VTEPs, and
/// what "converged" means (the agent hosts expected in each segment's flood list).
/// </summary>
public sealed class LabShape
{
    /// <summary>The start of the lab's prefix; the rest makes it unique per run.</summary>
    public required string Stem { get; init; }

    public int Hosts { get; init; } = 3;

    public int Vms { get; init; } = 2;

    /// <summary>lab.sh groups: VM k is in group (k-1) mod Groups, subnet 192.168.(100+group).0/24.</summary>
    public int Groups { get; init; } = 2;

    public required IReadOnlyList<PortGroupSpec> PortGroups { get; init; }

    /// <summary>Host index → the ports its agent binds. Hosts not listed run no agent.</summary>
    public required IReadOnlyDictionary<int, IReadOnlyList<PortBinding>> Agents { get; init; }

    /// <summary>
    /// Further settings every agent is started with, by their full key (e.g.
    /// <c>Fabric:Agent:MacAgingTime</c> → <c>00:00:04</c>; see <see cref="AgentSpec.Settings"/>).
    /// </summary>
    public IReadOnlyDictionary<string, string> AgentSettings { get; init; } = new Dictionary<string, string>();

    /// <summary>
    /// Whether the VMs' interfaces keep their default offloads (tx checksumming, TSO, GSO), as every
    /// container veth and virtio NIC has. Defaults to true.
    /// </summary>
    public bool VmOffloads { get; init; } = true;

    /// <summary>VNI → the agent hosts whose VTEPs its flood list holds once the fabric has converged.</summary>
    public required IReadOnlyDictionary<long, int[]> FloodLists { get; init; }

    /// <summary>If set, the arguments after <c>lab.sh kernel --prefix P</c>, run after <c>up</c>.</summary>
    public IReadOnlyList<string>? Kernel { get; init; }

    /// <summary>Runs after the lab is up and before the agents start (spare ports, VLAN sub-interfaces).</summary>
    public Func<LabFabric, Task>? Prepare { get; init; }

    /// <summary>Runs once the agents have converged (external VTEPs, static MACs).</summary>
    public Func<LabFabric, Task>? AfterConverged { get; init; }

    /// <summary>Every host's agent binds vm1 → web and vm2 → db (the lab's default groups).</summary>
    public static IReadOnlyList<PortBinding> WebAndDb { get; } = [new("vm1", "web"), new("vm2", "db")];
}
