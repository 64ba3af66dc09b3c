namespace Fabric.Lab.Tests;

/// <summary>
/// A routed fabric: 3 hosts × 4 VMs; "web" (192.168.100.0/24) and "db" (192.168.101.0/24) are
/// routed port groups of switch "dvs" with gateway .1, "iso" (192.168.102.0/24, gateway .1 too) is
/// not routed. VMs 1–3 of host h are 192.168.(99+k).(10h+k) with a default route via their
/// subnet's .1; VM 4 is on "web" too, for DHCP, which web serves from .100–.199 (the static lab
/// addresses are outside it). Once converged, VMs 1 and 2 have asked for their gateway once, so
/// their addresses are bound in the fabric.
/// </summary>
public sealed class RoutingFixture() : LabFabric(RoutedShape)
{
    public const long WebVni = 5101;
    public const long DbVni = 5102;
    public const long IsolatedVni = 5103;

    /// <summary>web's DHCP range.</summary>
    public const string DhcpFirst = "192.168.100.100", DhcpLast = "192.168.100.199";

    /// <summary>web's DNS servers (option 6) and lease time in seconds (option 51).</summary>
    public static readonly string[] DnsServers = ["192.168.100.53", "9.9.9.9"];

    public const int LeaseTime = 120;

    public static string Gateway(int vm) => $"192.168.{99 + (vm - 1) % 3 + 1}.1";

    private static LabShape RoutedShape { get; } = new()
    {
        Stem = "fr",
        Hosts = 3,
        Vms = 4,
        Groups = 3,
        PortGroups =
        [
            new("web", $$$"""{"vni":{{{WebVni}}},"routed":true,"ipv4":{"subnet":"192.168.100.0/24","gateway":"192.168.100.1","ranges":["{{{DhcpFirst}}}-{{{DhcpLast}}}"],"dhcp":true,"dnsServers":["{{{DnsServers[0]}}}","{{{DnsServers[1]}}}"],"leaseTime":{{{LeaseTime}}}}}"""),
            new("db", $$$"""{"vni":{{{DbVni}}},"routed":true,"ipv4":{"subnet":"192.168.101.0/24","gateway":"192.168.101.1"}}"""),
            new("iso", $$$"""{"vni":{{{IsolatedVni}}},"ipv4":{"subnet":"192.168.102.0/24","gateway":"192.168.102.1"}}"""),
        ],
        Agents = Enumerable.Range(1, 3).ToDictionary(h => h, _ => (IReadOnlyList<PortBinding>)[new("vm1", "web"), new("vm2", "db"), new("vm3", "iso"), new("vm4", "web")]),
        FloodLists = new Dictionary<long, int[]> { [WebVni] = [1, 2, 3], [DbVni] = [1, 2, 3], [IsolatedVni] = [1, 2, 3] },
        Prepare = async lab =>
        {
            for (int h = 1; h <= 3; h++)
            {
                for (int vm = 1; vm <= 4; vm++)
                {
                    await Shell.CheckedAsync(lab.VmNamespace(h, vm), $"ip route add default via {Gateway(vm)} dev eth0");
                }
            }
        },
        AfterConverged = async lab =>
        {
            // Each routed VM resolves its gateway: its ARP request binds its address in the fabric.
            for (int h = 1; h <= 3; h++)
            {
                for (int vm = 1; vm <= 2; vm++)
                {
                    await Shell.CheckedAsync(lab.VmNamespace(h, vm), $"ping -c 1 -W 2 {Gateway(vm)} >/dev/null");
                }
            }

            for (int h = 1; h <= 3; h++)
            {
                for (int vm = 1; vm <= 2; vm++)
                {
                    string ip = lab.VmIp(h, vm), mac = lab.VmMac(h, vm);
                    long vni = vm == 1 ? WebVni : DbVni;
                    foreach (int other in new[] { 1, 2, 3 })
                    {
                        await Eventually.WaitAsync(async () => (await lab.Status(other).ReadAsync()).ArpBinding(vni, ip) == mac, TimeSpan.FromSeconds(20), $"h{other}'s agent binds {ip} to {mac}");
                    }
                }
            }
        },
    };
}

[CollectionDefinition(Name)]
public sealed class RoutingCollection : ICollectionFixture<RoutingFixture>
{
    public const string Name = "routing lab";
}
