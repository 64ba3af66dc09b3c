using System.Diagnostics;
using System.Text;
using Fabric.Grains;
using Fabric.HostAgent.Configuration;
using Fabric.HostAgent.Diagnostics;
using Fabric.HostAgent.LocalPorts;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Fabric.HostAgent.HostNetworks;

/// <summary>
/// Plumbs what the host-local network modes need from the host's own kernel, and keeps it in step
/// with the switch configuration and the attached ports (docs/architecture.md, "Network modes"):
/// <list type="bullet">
/// <item>for every host-only or NAT port group with a workload port on this host, a veth pair:
/// <c>fgw{vni}</c> in the host's namespace holds the gateway address (the host is the network's
/// router, its MAC <see cref="PortGroup.GatewayMac"/>, its MTU the switch's), <c>fgp{vni}</c> is
/// attached to the port group as a gateway port (<see cref="PortRole.Gateway"/>);</item>
/// <item>the nftables table <c>ip fabric</c>, replaced whole on every change: NAT networks'
/// outbound traffic masqueraded (RFC 3022 NAPT by the kernel's conntrack), their port forwards as
/// DNAT on the host's own addresses, nothing forwarded into them unless established or forwarded,
/// nothing forwarded from or into host-only networks; IPv4 forwarding on while a NAT network exists;</item>
/// <item>for bridged port groups with a workload port on this host, the uplink
/// (<see cref="AgentOptions.Uplink"/>) attached as the LAN's port (<see cref="PortRole.Uplink"/>).</item>
/// </list>
/// Uses iproute2, nftables and sysctl (the kernel's own, well-kept tools) in the agent's network
/// namespace. A step that fails is logged and retried on the next round; the data plane does not wait.
/// </summary>
internal sealed partial class HostNetworks(
    PortRegistry registry,
    PortAttacher attacher,
    IOptions<AgentOptions> options,
    ILogger<HostNetworks> logger) : BackgroundService
{
    /// <summary>The nftables table the agent owns (family ip).</summary>
    public const string Table = "fabric";

    private static readonly TimeSpan Round = TimeSpan.FromMilliseconds(500);
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(10);
    private readonly AgentOptions _options = options.Value;
    private string? _appliedRules;
    private (long Generation, long Ports) _applied = (-1, -1);
    private bool _failed;

    /// <summary>The host-side interface of a host-only or NAT network's gateway.</summary>
    public static string GatewayInterface(uint vni) => $"fgw{vni}";

    /// <summary>The agent's end of that veth, attached as the gateway port.</summary>
    public static string GatewayPort(uint vni) => $"fgp{vni}";

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Round);
        do
        {
            try
            {
                await ReconcileAsync(stoppingToken);
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
            {
                _failed = true;
                Log.Failed(logger, ex.Message);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false));
    }

    /// <summary>One round: when the configuration or the ports changed (or the last round failed), brings the host in line.</summary>
    public async Task ReconcileAsync(CancellationToken ct)
    {
        var config = registry.Switch;
        var (version, ports) = registry.Current;
        if (config is null || (!_failed && _applied == (config.Version, version)))
        {
            return;
        }

        _failed = false;
        var workloads = ports.Where(p => p.Role == PortRole.Workload).Select(p => p.PortGroup).ToHashSet(StringComparer.Ordinal);
        var gateways = config.PortGroups.Where(g => g.Network is NetworkMode.HostOnly or NetworkMode.Nat && workloads.Contains(g.Name) && g.Ipv4?.Gateway is not null).ToList();
        var changes = new List<string>();

        // Gateways: create what is missing, attach it, then remove what is no longer wanted.
        foreach (var group in gateways)
        {
            uint vni = group.Vni.Value;
            string host = GatewayInterface(vni), agent = GatewayPort(vni);
            if (!await LinkExistsAsync(host, ct))
            {
                await IpAsync(ct, "link", "add", host, "type", "veth", "peer", "name", agent);
                changes.Add($"+{host}");
            }

            var pool = group.Ipv4!;
            await IpAsync(ct, "link", "set", host, "address", PortGroup.GatewayMac.ToString(), "mtu", config.Mtu.ToString(System.Globalization.CultureInfo.InvariantCulture), "up");
            await IpAsync(ct, "link", "set", agent, "mtu", config.Mtu.ToString(System.Globalization.CultureInfo.InvariantCulture), "up");
            await IpAsync(ct, "addr", "replace", $"{pool.Gateway}/{pool.PrefixLength}", "dev", host);
            var existing = registry.Find(agent);
            if (existing is not null && existing.PortGroup != group.Name)
            {
                await attacher.DetachAsync(agent, ct);
            }

            await attacher.AttachAsync(new PortRequest(agent, group.Name, PortGroup.GatewayMac.ToString(), Owner: LocalPort.GatewayOwner), ct);
        }

        var wanted = gateways.Select(g => GatewayPort(g.Vni.Value)).ToHashSet(StringComparer.Ordinal);
        foreach (var stale in ports.Where(p => p.Role == PortRole.Gateway && !wanted.Contains(p.Interface)).ToArray())
        {
            await attacher.DetachAsync(stale.Interface, ct);
            string host = "fgw" + stale.Interface[3..];
            if (await LinkExistsAsync(host, ct))
            {
                await IpAsync(ct, "link", "del", host);
            }

            changes.Add($"-{host}");
        }

        // The uplink carries the bridged port groups that have a workload here.
        var bridged = config.PortGroups.Where(g => g.Network == NetworkMode.Bridged && workloads.Contains(g.Name)).ToList();
        var uplink = ports.FirstOrDefault(p => p.Role == PortRole.Uplink);
        if (bridged.Count != 0 && _options.Uplink is { Length: > 0 } uplinkName)
        {
            if (uplink is not null && (uplink.Interface != uplinkName || config.PortGroups.All(g => g.Name != uplink.PortGroup || g.Network != NetworkMode.Bridged)))
            {
                await attacher.DetachAsync(uplink.Interface, ct);
                uplink = null;
            }

            if (uplink is null)
            {
                await attacher.AttachAsync(new PortRequest(uplinkName, bridged[0].Name, Owner: LocalPort.UplinkOwner), ct);
                changes.Add($"+uplink {uplinkName}");
            }
        }
        else if (uplink is not null)
        {
            await attacher.DetachAsync(uplink.Interface, ct);
            changes.Add($"-uplink {uplink.Interface}");
        }

        // nftables, replaced whole when it changes.
        string rules = Rules(config, gateways);
        if (rules != _appliedRules)
        {
            if (gateways.Any(g => g.Network == NetworkMode.Nat))
            {
                await RunAsync(ct, "sysctl", "-qw", "net.ipv4.ip_forward=1");
            }

            await RunWithInputAsync(ct, rules, "nft", "-f", "-");
            _appliedRules = rules;
            changes.Add("nftables");
        }

        _applied = (config.Version, registry.Current.Version);
        if (changes.Count != 0)
        {
            Log.Applied(logger, string.Join(", ", changes));
        }
    }

    /// <summary>
    /// The nftables table for <paramref name="gateways"/>: created (empty first, so the delete that
    /// follows always finds it) and replaced in one transaction (<c>nft -f</c> is atomic).
    /// </summary>
    public static string Rules(SwitchConfig config, IReadOnlyList<PortGroup> gateways)
    {
        var text = new StringBuilder();
        text.Append(System.Globalization.CultureInfo.InvariantCulture, $"table ip {Table}\ndelete table ip {Table}\n");
        if (gateways.Count == 0)
        {
            return text.ToString();
        }

        text.Append(System.Globalization.CultureInfo.InvariantCulture, $"table ip {Table} {{\n");
        text.Append("  chain prerouting {\n    type nat hook prerouting priority dstnat; policy accept;\n");
        foreach (var group in gateways.Where(g => g.Network == NetworkMode.Nat))
        {
            foreach (var forward in group.Forwards)
            {
                // Connections to one of the host's own addresses (RFC 3022 §2.2, inbound NAPT).
                text.Append(System.Globalization.CultureInfo.InvariantCulture, $"    fib daddr type local {forward.Protocol} dport {forward.HostPort} dnat to {forward.VmAddress}:{forward.VmPort}\n");
            }
        }

        text.Append("  }\n  chain postrouting {\n    type nat hook postrouting priority srcnat; policy accept;\n");
        foreach (var group in gateways.Where(g => g.Network == NetworkMode.Nat))
        {
            text.Append(System.Globalization.CultureInfo.InvariantCulture, $"    ip saddr {group.Ipv4!.Subnet} oifname != \"fgw*\" masquerade\n");
        }

        text.Append("  }\n  chain forward {\n    type filter hook forward priority filter; policy accept;\n");
        foreach (var group in gateways.Where(g => g.Network == NetworkMode.Nat))
        {
            string gateway = GatewayInterface(group.Vni.Value);
            text.Append(System.Globalization.CultureInfo.InvariantCulture, $"    iifname \"{gateway}\" oifname != \"fgw*\" accept\n");
            text.Append(System.Globalization.CultureInfo.InvariantCulture, $"    oifname \"{gateway}\" ct state established,related accept\n");
            text.Append(System.Globalization.CultureInfo.InvariantCulture, $"    oifname \"{gateway}\" ct status dnat accept\n");
        }

        // Host-only networks forward nothing; NAT networks nothing else (not to each other either).
        text.Append("    iifname \"fgw*\" drop\n    oifname \"fgw*\" drop\n  }\n}\n");
        return text.ToString();
    }

    private async Task<bool> LinkExistsAsync(string name, CancellationToken ct)
        => (await TryRunAsync(ct, null, "ip", Namespaced("link", "show", name))).ExitCode == 0;

    private Task IpAsync(CancellationToken ct, params string[] arguments) => RunAsync(ct, "ip", Namespaced(arguments));

    private string[] Namespaced(params string[] ipArguments)
        => _options.NetworkNamespace is { Length: > 0 } ns ? ["-n", ns, .. ipArguments] : ipArguments;

    private Task RunAsync(CancellationToken ct, string file, params string[] arguments) => RunWithInputAsync(ct, null, file, arguments);

    private async Task RunWithInputAsync(CancellationToken ct, string? input, string file, params string[] arguments)
    {
        if (file != "ip" && _options.NetworkNamespace is { Length: > 0 } ns)
        {
            arguments = [$"--net=/run/netns/{ns}", file, .. arguments];
            file = "nsenter";
        }

        var (code, error) = await TryRunAsync(ct, input, file, arguments);
        if (code != 0)
        {
            throw new InvalidOperationException($"{file} {string.Join(' ', arguments)} failed ({code}): {error.Trim()}");
        }
    }

    private static async Task<(int ExitCode, string Error)> TryRunAsync(CancellationToken ct, string? input, string file, params string[] arguments)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardError = true, RedirectStandardOutput = true, RedirectStandardInput = input is not null, UseShellExecute = false };
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"{file} did not start");
        if (input is not null)
        {
            await process.StandardInput.WriteAsync(input.AsMemory(), ct);
            process.StandardInput.Close();
        }

        var error = process.StandardError.ReadToEndAsync(ct);
        var output = process.StandardOutput.ReadToEndAsync(ct);
        using var bound = CancellationTokenSource.CreateLinkedTokenSource(ct);
        bound.CancelAfter(CommandTimeout);
        try
        {
            await process.WaitForExitAsync(bound.Token);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            process.Kill(entireProcessTree: true);
            return (-1, $"timed out after {CommandTimeout.TotalSeconds} s");
        }

        await output;
        return (process.ExitCode, await error);
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = AgentEventIds.HostNetworksApplied, Level = LogLevel.Information, Message = "Host networks: {Changes}")]
        public static partial void Applied(ILogger logger, string changes);

        [LoggerMessage(EventId = AgentEventIds.HostNetworksFailed, Level = LogLevel.Warning, Message = "Host networks could not be plumbed (retried): {Reason}")]
        public static partial void Failed(ILogger logger, string reason);
    }
}
