namespace Fabric.Lab.Tests;

/// <summary>
/// The VM network modes on 2 hosts × 3 VMs, with an "outside" machine on the underlay LAN
/// (<c>lab.sh outside</c>: namespace P-out at &lt;underlay&gt;.200) that is not part of the fabric:
/// VM 1 is on "private" (host-only, 192.168.100.0/24, the host at .1), VM 2 on "natnet" (NAT,
/// 192.168.101.0/24, the host at .1, DHCP from .100–.199, TCP 8080 on the host forwarded to
/// h1-vm2's port 80), VM 3 on "lan" (bridged onto the hosts' uplinks, untagged), VM 4 on "lan100"
/// (bridged, VLAN 100 on the uplinks; the outside machine has a user-space 802.1Q sub-interface
/// eth0.100 at 172.31.100.200, as this kernel has no VLAN devices). Converged when every host has
/// plumbed its gateways and attached its uplink.
/// </summary>
public sealed class ModesFixture() : LabFabric(ModesShape)
{
    public const long PrivateVni = 5201;
    public const long NatVni = 5202;
    public const long LanVni = 5203;
    public const long Lan100Vni = 5204;

    /// <summary>The outside machine's address in VLAN 100.</summary>
    public const string OutsideVlan100Ip = "172.31.100.200";
    public const int ForwardedPort = 8080;

    public static string Gateway(int vm) => $"192.168.{99 + vm}.1";

    /// <summary>The outside machine's address on the LAN.</summary>
    public string OutsideIp => $"{Env["LAB_UNDERLAY_NET"]}.200";

    public string OutsideNamespace => $"{Prefix}-out";

    private static LabShape ModesShape { get; } = new()
    {
        Stem = "fm",
        Hosts = 2,
        Vms = 4,
        Groups = 4,
        PortGroups =
        [
            new("private", $$$"""{"vni":{{{PrivateVni}}},"network":"hostOnly","ipv4":{"subnet":"192.168.100.0/24","gateway":"192.168.100.1"}}"""),
            new("natnet", $$$"""{"vni":{{{NatVni}}},"network":"nat","ipv4":{"subnet":"192.168.101.0/24","gateway":"192.168.101.1","ranges":["192.168.101.100-192.168.101.199"],"dhcp":true},"portForwards":[{"protocol":"tcp","hostPort":{{{ForwardedPort}}},"vmAddress":"192.168.101.12","vmPort":80}]}"""),
            new("lan", $$$"""{"vni":{{{LanVni}}},"network":"bridged"}"""),
            new("lan100", $$$"""{"vni":{{{Lan100Vni}}},"network":"bridged","bridged":{"uplinkVlan":100}}"""),
        ],
        Agents = Enumerable.Range(1, 2).ToDictionary(h => h, _ => (IReadOnlyList<PortBinding>)[new("vm1", "private"), new("vm2", "natnet"), new("vm3", "lan"), new("vm4", "lan100")]),
        AgentSettings = new Dictionary<string, string> { ["Fabric:Agent:Uplink"] = "uplink" },
        FloodLists = new Dictionary<long, int[]>(),
        Prepare = async lab =>
        {
            await lab.LabAsync("outside");
            string outside = $"{lab.Prefix}-out", script = Path.Combine(AppContext.BaseDirectory, "Infrastructure", "vlan-subifs.py");
            await Shell.CheckedAsync(outside, string.Join("; ",
                "set -e",
                "ip link add eth0.100 address 02:fb:ff:00:01:00 type veth peer name t100",
                $"ip addr add {OutsideVlan100Ip}/24 dev eth0.100",
                "ethtool -K eth0.100 tx off tso off gso off gro off >/dev/null",
                "ethtool -K t100 rx off tx off tso off gso off gro off >/dev/null",
                "ip link set t100 up",
                "ip link set eth0.100 up"));
            await lab.StartInNamespaceAsync("tagger outside", outside, "tagging", "python3", "-u", script, "eth0", "100:t100");
            for (int h = 1; h <= 2; h++)
            {
                for (int vm = 1; vm <= 2; vm++)
                {
                    await Shell.CheckedAsync(lab.VmNamespace(h, vm), $"ip route add default via {Gateway(vm)} dev eth0");
                }
            }
        },
        AfterConverged = async lab =>
        {
            for (int h = 1; h <= 2; h++)
            {
                int host = h;
                await Eventually.WaitAsync(
                    async () =>
                    {
                        var status = await lab.Status(host).ReadAsync();
                        var ports = status.Ports.Select(p => p.Name).ToHashSet();
                        return ports.Contains($"fgp{PrivateVni}") && ports.Contains($"fgp{NatVni}") && ports.Contains("uplink")
                            && (await Shell.InNamespaceAsync(lab.HostNamespace(host), "nft list table ip fabric")).ExitCode == 0;
                    },
                    TimeSpan.FromSeconds(30),
                    $"h{host} plumbed its gateways, its nftables table and its uplink");
            }
        },
    };
}

[CollectionDefinition(Name)]
public sealed class ModesCollection : ICollectionFixture<ModesFixture>
{
    public const string Name = "network modes lab";
}
