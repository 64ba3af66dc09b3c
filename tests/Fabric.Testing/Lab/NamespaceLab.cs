using System.Globalization;

namespace Fabric.Testing;

/// <summary>
/// A namespace lab (deploy/lab/lab.sh): hosts, VMs and an underlay made of network namespaces and
/// veth pairs, every namespace named after a prefix unique to this test run. Brought up by
/// <see cref="UpAsync"/>, changed with <c>port</c>, <c>move</c> and <c>kernel</c>, and removed by
/// its prefix on dispose (lab.sh down also ends what still runs in its namespaces).
/// </summary>
public sealed class NamespaceLab : IAsyncDisposable
{
    private readonly Dictionary<string, string> _env = new(StringComparer.Ordinal);
    private int _down;

    private NamespaceLab(string prefix)
    {
        Prefix = prefix;
    }

    /// <summary>The lab's prefix: every namespace name starts with <c>prefix-</c>.</summary>
    public string Prefix { get; }

    /// <summary>deploy/lab/lab.sh.</summary>
    public static string Script => Repository.Path("deploy", "lab", "lab.sh");

    /// <summary>Where lab.sh keeps its state files (FABRIC_LAB_STATE_DIR, by default /run/fabric-lab).</summary>
    public static string StateDirectory => Environment.GetEnvironmentVariable("FABRIC_LAB_STATE_DIR") is { Length: > 0 } dir ? dir : "/run/fabric-lab";

    /// <summary>The lab's variables from <c>StateDirectory/prefix.env</c> (H1_IP, H1_VM1_MAC, LAB_CONTROL_IP, ...).</summary>
    public IReadOnlyDictionary<string, string> Env => _env;

    /// <summary>The underlay switch's namespace (bridge br0).</summary>
    public string UnderlayNamespace => $"{Prefix}-ul";

    /// <summary>The underlay switch's own address (lab.sh's control address).</summary>
    public string ControlIp => _env["LAB_CONTROL_IP"];

    /// <summary>A unique prefix: <paramref name="stem"/>, then digits of the test process id and a random number.</summary>
    public static string UniquePrefix(string stem)
        => string.Create(CultureInfo.InvariantCulture, $"{stem}{Environment.ProcessId % 10000:D4}{Random.Shared.Next(100):D2}");

    /// <summary>Host <paramref name="host"/>'s namespace (its underlay address and its VMs' ports are there).</summary>
    public string HostNamespace(int host) => $"{Prefix}-h{host}";

    /// <summary>The namespace of VM <paramref name="vm"/> of host <paramref name="host"/>.</summary>
    public string VmNamespace(int host, int vm) => $"{Prefix}-h{host}-vm{vm}";

    /// <summary>Host <paramref name="host"/>'s underlay (VTEP) address.</summary>
    public string UnderlayIp(int host) => _env[$"H{host}_IP"];

    /// <summary>The address of VM <paramref name="vm"/> of host <paramref name="host"/>.</summary>
    public string VmIp(int host, int vm) => _env[$"H{host}_VM{vm}_IP"];

    /// <summary>The MAC of VM <paramref name="vm"/> of host <paramref name="host"/>.</summary>
    public string VmMac(int host, int vm) => _env[$"H{host}_VM{vm}_MAC"];

    /// <summary>
    /// <c>lab.sh up</c>: <paramref name="hosts"/> hosts with <paramref name="vms"/> VMs each, VM k
    /// in group (k-1) mod <paramref name="groups"/>, under the prefix <see cref="UniquePrefix"/>(<paramref name="stem"/>).
    /// A lab that fails to come up is removed.
    /// </summary>
    public static async Task<NamespaceLab> UpAsync(string stem, int hosts, int vms, int groups, bool vmOffloads = true)
    {
        var lab = new NamespaceLab(UniquePrefix(stem));
        try
        {
            await lab.RunAsync("up", "--hosts", hosts.ToString(CultureInfo.InvariantCulture), "--vms", vms.ToString(CultureInfo.InvariantCulture),
                "--groups", groups.ToString(CultureInfo.InvariantCulture), "--vm-offloads", vmOffloads ? "on" : "off", "--quiet");
            foreach (string line in await File.ReadAllLinesAsync(Path.Combine(StateDirectory, $"{lab.Prefix}.env")))
            {
                int eq = line.IndexOf('=');
                if (eq > 0 && !line.StartsWith('#'))
                {
                    lab._env[line[..eq]] = line[(eq + 1)..].Trim('"');
                }
            }

            return lab;
        }
        catch
        {
            await lab.DisposeAsync();
            throw;
        }
    }

    /// <summary>Runs <c>lab.sh command --prefix P args...</c>; throws with its output unless it exits 0.</summary>
    public async Task RunAsync(string command, params string[] args)
    {
        var result = await Shell.RunAsync("bash", [Script, command, "--prefix", Prefix, .. args], TimeSpan.FromMinutes(2));
        if (result.ExitCode != 0)
        {
            throw new CommandFailedException($"lab.sh {command} {string.Join(' ', args)} failed:\n{result.Output}");
        }
    }

    /// <summary><c>lab.sh port</c>: a spare port <paramref name="name"/> on host <paramref name="host"/> (its peer, <c>name-vm</c>, stays in the host namespace).</summary>
    public Task AddPortAsync(int host, string name) => RunAsync("port", "--host", $"h{host}", "--name", name, "--quiet");

    /// <summary>
    /// <c>lab.sh move</c>: VM <paramref name="vm"/> (e.g. "h1-vm3") to host <paramref name="toHost"/>'s
    /// port <paramref name="port"/>, keeping its address and its MAC, or coming up with
    /// <paramref name="mac"/> instead (a VM re-created with a new vNIC).
    /// </summary>
    public Task MoveAsync(string vm, int toHost, string port, string? mac = null)
        => mac is null
            ? RunAsync("move", "--vm", vm, "--to", $"h{toHost}", "--port", port, "--quiet")
            : RunAsync("move", "--vm", vm, "--to", $"h{toHost}", "--port", port, "--mac", mac, "--quiet");

    /// <summary><c>lab.sh kernel</c>: Linux kernel VTEPs (arguments as lab.sh takes them).</summary>
    public Task KernelAsync(params string[] args) => RunAsync("kernel", args);

    /// <summary>Runs <paramref name="command"/> with bash in the lab namespace <c>prefix-suffix</c> (e.g. "h1-vm1"), bounded.</summary>
    public Task<Shell.Result> ExecAsync(string suffix, string command, TimeSpan? timeout = null) => Shell.InNamespaceAsync($"{Prefix}-{suffix}", command, timeout);

    /// <summary><c>lab.sh down</c>: removes every namespace of the prefix (once).</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _down, 1) == 0)
        {
            await Shell.RunAsync("bash", [Script, "down", "--prefix", Prefix, "--quiet"], TimeSpan.FromMinutes(1));
        }
    }
}
