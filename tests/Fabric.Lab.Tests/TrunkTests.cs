namespace Fabric.Lab.Tests;

/// <summary>
/// 2 hosts, each with vm1 on access port group web (VNI 5001, access VLAN 100), vm2 on db
/// (VNI 5002, access VLAN 200) and vm3 on trunk port group "trunk" (VNI 5003, VLANs 100-200). The
/// trunk VM has 802.1Q sub-interfaces eth0.100 (web's subnet) and eth0.200 (db's subnet), and its
/// untagged eth0 keeps the lab's address in 192.168.102.0/24, which is the trunk group's own VNI.
/// </summary>
public sealed class TrunkFixture() : LabFabric(DefaultShape)
{
    public const long WebVni = 5001;
    public const long DbVni = 5002;
    public const long TrunkVni = 5003;

    public static LabShape DefaultShape { get; } = new()
    {
        Stem = "ft",
        Hosts = 2,
        Vms = 3,
        Groups = 3,
        PortGroups =
        [
            new("web", $$$"""{"vni":{{{WebVni}}},"vlan":{"mode":"access","accessVlan":100}}"""),
            new("db", $$$"""{"vni":{{{DbVni}}},"vlan":{"mode":"access","accessVlan":200}}"""),
            new("trunk", $$$"""{"vni":{{{TrunkVni}}},"vlan":{"mode":"trunk","trunkRanges":["100-200"]}}"""),
        ],
        Agents = Enumerable.Range(1, 2).ToDictionary(h => h, _ => (IReadOnlyList<PortBinding>)[new("vm1", "web"), new("vm2", "db"), new("vm3", "trunk")]),
        FloodLists = new Dictionary<long, int[]> { [WebVni] = [1, 2], [DbVni] = [1, 2], [TrunkVni] = [1, 2] },

        // The user-space tagger below reads and writes plain frames (no virtio_net_hdr), so a frame
        // whose checksum a VM left to offload would reach the sub-interface unfinished and be
        // dropped there; a real 802.1Q guest NIC takes the offload. OffloadTests and InteropTests
        // cover offloads on; this lab checks tagging.
        VmOffloads = false,
        Prepare = async lab =>
        {
            string script = Path.Combine(AppContext.BaseDirectory, "Infrastructure", "vlan-subifs.py");
            for (int h = 1; h <= 2; h++)
            {
                // This kernel has no 802.1Q devices (no 8021q, no bridge VLAN filtering), so eth0.100
                // and eth0.200 are veths whose inner ends a user-space tagger (vlan-subifs.py) joins
                // to eth0 by tag: the VM's stack sees sub-interfaces, the trunk port tagged frames.
                // They keep MTU 1450: a tagged full-size frame is 1450 + 18 bytes on the trunk veth,
                // which a veth accepts (it allows a VLAN header over its MTU); the agent pops the
                // tag, so the inner frame on the wire is an untagged 1464 bytes, as for an access port.
                // arp_ignore=1: the trunk VM answers ARP only on the interface that holds the address,
                // so it cannot answer for one VLAN's address on another through weak-host routing.
                string mac = lab.VmMac(h, 3);
                var commands = new List<string> { "set -e", "sysctl -qw net.ipv4.conf.all.arp_ignore=1", "ethtool -K eth0 gro off >/dev/null" };
                foreach (var (vid, subnet) in new[] { (100, 100), (200, 101) })
                {
                    commands.AddRange(
                    [
                        $"ip link add eth0.{vid} address {mac} mtu 1450 type veth peer name t{vid} mtu 1450",
                        $"ip addr add 192.168.{subnet}.{10 * h + 3}/24 dev eth0.{vid}",
                        $"ethtool -K eth0.{vid} tx off tso off gso off gro off >/dev/null",
                        $"ethtool -K t{vid} rx off tx off tso off gso off gro off >/dev/null",
                        $"ip link set t{vid} up",
                        $"ip link set eth0.{vid} up",
                    ]);
                }

                await Shell.CheckedAsync(lab.VmNamespace(h, 3), string.Join("; ", commands));
                await lab.StartInNamespaceAsync($"tagger h{h}-vm3", lab.VmNamespace(h, 3), "tagging", "python3", "-u", script, "eth0", "100:t100", "200:t200");
            }
        },
    };

    /// <summary>Every endpoint by name ("h1-vm1", "h2-vm3.100", "h1-vm3" for the untagged trunk), with its VNI.</summary>
    public static IReadOnlyDictionary<string, long> Endpoints { get; } = new Dictionary<string, long>
    {
        ["h1-vm1"] = WebVni, ["h2-vm1"] = WebVni, ["h1-vm3.100"] = WebVni, ["h2-vm3.100"] = WebVni,
        ["h1-vm2"] = DbVni, ["h2-vm2"] = DbVni, ["h1-vm3.200"] = DbVni, ["h2-vm3.200"] = DbVni,
        ["h1-vm3"] = TrunkVni, ["h2-vm3"] = TrunkVni,
    };

    /// <summary>The namespace and address of an endpoint.</summary>
    public (string Ns, string Ip) Endpoint(string name)
    {
        int host = name[1] - '0', vm = name[5] - '0';
        string ip = name.EndsWith(".100", StringComparison.Ordinal) ? $"192.168.100.{10 * host + 3}"
            : name.EndsWith(".200", StringComparison.Ordinal) ? $"192.168.101.{10 * host + 3}"
            : VmIp(host, vm);
        return (VmNamespace(host, vm), ip);
    }

    public static long VniOfSubnet(string ip) => ip.StartsWith("192.168.100.", StringComparison.Ordinal) ? WebVni
        : ip.StartsWith("192.168.101.", StringComparison.Ordinal) ? DbVni
        : ip.StartsWith("192.168.102.", StringComparison.Ordinal) ? TrunkVni : 0;
}

[CollectionDefinition(Name)]
public sealed class TrunkCollection : ICollectionFixture<TrunkFixture>
{
    public const string Name = "trunk lab";
}

/// <summary>A trunk port carries several port groups by 802.1Q tag; access ports and the trunk meet in each VNI and only there.</summary>
[Collection(TrunkCollection.Name)]
[Trait("Category", "Lab")]
public sealed class TrunkTests(TrunkFixture lab)
{
    public static TheoryData<string, string> SameVniPairs()
    {
        var data = new TheoryData<string, string>();
        var names = TrunkFixture.Endpoints.Keys.ToList();
        for (int i = 0; i < names.Count; i++)
        {
            for (int j = i + 1; j < names.Count; j++)
            {
                if (TrunkFixture.Endpoints[names[i]] == TrunkFixture.Endpoints[names[j]])
                {
                    data.Add(names[i], names[j]);
                }
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(SameVniPairs))]
    public async Task Every_pair_in_one_vni_reaches_each_other_by_ping(string from, string to)
    {
        var (ns, _) = lab.Endpoint(from);
        var (_, ip) = lab.Endpoint(to);
        var ping = await Shell.InNamespaceAsync(ns, $"ping -c 2 -i 0.2 -W 3 {ip}");
        Assert.True(ping.ExitCode == 0, $"ping {from} → {to} ({ip}) failed:\n{ping.Output}\n{lab.LogTail()}");
    }

    [Theory]
    [InlineData("h1-vm3.100", "h2-vm1", 5401)]
    [InlineData("h2-vm2", "h1-vm3.200", 5402)]
    [InlineData("h1-vm3.100", "h2-vm3.100", 5403)]
    [InlineData("h2-vm3", "h1-vm3", 5404)]
    [InlineData("h1-vm1", "h1-vm3.100", 5405)]
    public async Task Tcp_carries_data_between_trunk_sub_interfaces_and_access_vms(string client, string server, int port)
    {
        var (clientNs, _) = lab.Endpoint(client);
        var (serverNs, serverIp) = lab.Endpoint(server);
        await Traffic.TcpAsync(clientNs, serverNs, serverIp, port);
    }

    [Theory]
    [InlineData("h1-vm3.100", "h2-vm1")]
    [InlineData("h2-vm1", "h1-vm3.100")]
    [InlineData("h2-vm3.200", "h1-vm3.200")]
    public async Task Full_size_frames_cross_between_trunk_and_access_ports_unfragmented(string from, string to)
    {
        // 1422 bytes of ICMP data + 8 + 20 = 1450, the VM MTU, with DF set.
        var (ns, _) = lab.Endpoint(from);
        var (_, ip) = lab.Endpoint(to);
        var ping = await Shell.InNamespaceAsync(ns, $"ping -M do -s 1422 -c 2 -i 0.2 -W 3 {ip}");
        Assert.True(ping.ExitCode == 0, $"full-size ping {from} → {to} failed:\n{ping.Output}");
    }

    [Fact]
    public async Task Trunk_frames_cross_the_underlay_untagged_in_the_vni_of_their_vlan()
    {
        await Shell.CheckedAsync(lab.VmNamespace(1, 3), "ip neigh flush all");
        await using var capture = await Underlay.CaptureAsync(lab, "trunk");
        foreach (var to in new[] { "h2-vm1", "h2-vm2", "h2-vm3", "h2-vm3.100", "h2-vm3.200" })
        {
            await Shell.CheckedAsync(lab.VmNamespace(1, 3), $"ping -c 2 -i 0.2 -W 3 {lab.Endpoint(to).Ip}");
        }

        await capture.StopAsync();
        var all = await Underlay.ReadAsync(capture);
        string trunkMac = lab.VmMac(1, 3);
        var fromTrunk = all.Where(d => d.InnerSourceMac == trunkMac).ToList();
        Assert.True(fromTrunk.Count >= 10, $"the trunk VM's frames are not on the underlay:\n{Underlay.Describe(all)}");
        var wrong = fromTrunk.Where(d => d.Protocols.Contains(":vlan", StringComparison.Ordinal) || d.Vni != TrunkFixture.VniOfSubnet(d.InnerSender)).ToList();
        Assert.True(wrong.Count == 0, $"trunk frames tagged on the wire or in the wrong VNI:\n{Underlay.Describe(wrong)}");
        Assert.Equal([TrunkFixture.WebVni, TrunkFixture.DbVni, TrunkFixture.TrunkVni], fromTrunk.Select(d => d.Vni!.Value).Distinct().Order());

        var complaints = await Underlay.ComplaintsAsync(capture);
        if (complaints.Count > 0)
        {
            Assert.Fail($"tshark complains about {capture.Keep()}:\n{string.Join('\n', complaints)}");
        }
    }

    /// <summary>
    /// The sender gets an on-link /32 route toward an address of another VNI, so it really ARPs for
    /// it on its own segment; the target (captured) must see nothing of the sender but what its own
    /// segment legitimately floods to it (for a trunk target: frames tagged with the sender's VLAN).
    /// </summary>
    [Theory]
    [InlineData("h1-vm3.100", "h2-vm2", null)]
    [InlineData("h2-vm1", "h1-vm3.200", "100")]
    [InlineData("h1-vm3", "h2-vm1", null)]
    public async Task No_frame_crosses_from_one_vni_to_another_through_a_trunk(string from, string to, string? allowedTag)
    {
        var (fromNs, _) = lab.Endpoint(from);
        var (toNs, toIp) = lab.Endpoint(to);
        string device = from.Contains('.') ? $"eth0.{from[^3..]}" : "eth0";
        string fromMac = lab.VmMac(from[1] - '0', from[5] - '0');

        // The capturing VM's end marker goes to a peer of its own (untagged) segment.
        string ownIp = lab.VmIp(to[1] - '0', to[5] - '0');
        string peerIp = lab.VmIp(to[1] == '1' ? 2 : 1, to[5] - '0');
        await Shell.CheckedAsync(fromNs, "ip neigh flush all");
        await Shell.CheckedAsync(fromNs, $"ip route replace {toIp}/32 dev {device}");
        try
        {
            await using var capture = await Traffic.CaptureFromAsync(lab, toNs, ownIp, peerIp, fromMac, "isolation");
            var ping = await Shell.InNamespaceAsync(fromNs, $"ping -c 3 -i 0.2 -W 1 {toIp}");
            await capture.StopAsync();
            var frames = await Pcap.FieldsAsync(capture.File, $"eth.src == {fromMac}", "frame.number", "vlan.id", "eth.dst", "frame.protocols");
            var leaked = frames.Where(f => allowedTag is null || f[1] != allowedTag).ToList();
            Assert.True(leaked.Count == 0, $"{to} saw frames of {from} from another VNI:\n{string.Join('\n', leaked.Select(f => string.Join(' ', f)))}");
            Assert.True(ping.ExitCode != 0, $"{from} reached {to} ({toIp}) across VNIs:\n{ping.Output}");
        }
        finally
        {
            await Shell.InNamespaceAsync(fromNs, $"ip route del {toIp}/32 dev {device}");
        }
    }

    [Fact]
    public async Task The_trunk_port_joins_the_segment_of_every_vlan_it_carries()
    {
        // The status file is rewritten every second: the assertions are given until a rewrite holds them.
        await Eventually.AssertAsync(
            async () =>
            {
                var status = await lab.AgentStatusAsync(1);
                var ports = status.Segments.ToDictionary(s => s.Vni, s => s.LocalPorts.ToArray());
                Assert.Equal(["vm1", "vm3"], ports[TrunkFixture.WebVni].Order());
                Assert.Equal(["vm2", "vm3"], ports[TrunkFixture.DbVni].Order());
                Assert.Equal(["vm3"], ports[TrunkFixture.TrunkVni]);
                Assert.True(status.Ports.Single(p => p.Name == "vm3").Trunk, status.ToString());
            },
            TimeSpan.FromSeconds(10),
            "h1's status file to show the trunk port in the segment of every VLAN it carries");
    }
}
