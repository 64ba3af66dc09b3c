namespace Fabric.Lab.Tests;

/// <summary>
/// The fabric of issue 9's layer-2 rules (IP bindings, own VTEP, port security, reserved group
/// addresses): 3 hosts × 3 VMs, port groups web (VNI 5001: vm1 and vm3, 192.168.100.0/24) and db
/// (VNI 5002: vm2, 192.168.101.0/24), one agent per host. h1 also has a spare port "pm" in web
/// whose agent port is configured with <see cref="ConfiguredMac"/> (its peer "pm-vm" waits in h1's
/// namespace, where a test sends from it), and h2 a spare port "re" in db for a re-created VM.
/// </summary>
public sealed class L2RulesFixture() : LabFabric(DefaultShape)
{
    public const long WebVni = 5001;
    public const long DbVni = 5002;
    public const string WebBody = """{"vni":5001}""";

    /// <summary>h1's spare port in web, configured with <see cref="ConfiguredMac"/>.</summary>
    public const string ConfiguredPort = "pm";

    /// <summary>The MAC configured on <see cref="ConfiguredPort"/> (<c>Ports:N:Mac</c>).</summary>
    public const string ConfiguredMac = "02:fa:01:0a:00:01";

    /// <summary>h2's spare port in db, where h2-vm2 is re-created.</summary>
    public const string RecreatePort = "re";

    public static LabShape DefaultShape { get; } = new()
    {
        Stem = "fr",
        Hosts = 3,
        Vms = 3,
        Groups = 2,
        PortGroups = [new("web", WebBody), new("db", $$"""{"vni":{{DbVni}}}""")],
        Agents = new Dictionary<int, IReadOnlyList<PortBinding>>
        {
            [1] = [new("vm1", "web"), new("vm2", "db"), new("vm3", "web"), new(ConfiguredPort, "web", ConfiguredMac)],
            [2] = [new("vm1", "web"), new("vm2", "db"), new("vm3", "web"), new(RecreatePort, "db")],
            [3] = [new("vm1", "web"), new("vm2", "db"), new("vm3", "web")],
        },
        FloodLists = new Dictionary<long, int[]> { [WebVni] = [1, 2, 3], [DbVni] = [1, 2, 3] },
        Prepare = async lab =>
        {
            await lab.Fabric.Lab.AddPortAsync(1, ConfiguredPort);
            await lab.Fabric.Lab.AddPortAsync(2, RecreatePort);
        },
    };

    /// <summary>Counts frames received on eth0 of VM <paramref name="vm"/> of host <paramref name="host"/> by pattern (see <see cref="RawFrames"/>).</summary>
    public Task<RawFrames.Counter> CountAsync(int host, int vm, params string[] patterns)
        => RawFrames.StartCounterAsync(StatusDir, VmNamespace(host, vm), "eth0", patterns);

    /// <summary>Sends <paramref name="frames"/> from eth0 of VM <paramref name="vm"/> of host <paramref name="host"/>; returns when each left.</summary>
    public Task<IReadOnlyList<DateTimeOffset>> SendAsync(int host, int vm, params byte[][] frames)
        => RawFrames.SendFramesAsync(StatusDir, VmNamespace(host, vm), "eth0", frames);

    /// <summary>PUTs port group <paramref name="name"/> with <paramref name="body"/> and waits until every agent applied it.</summary>
    public async Task SetPortGroupAsync(string name, string body)
    {
        await PutAsync($"api/switches/{FabricDeployment.Switch}/portgroups/{name}", body);
        await Fabric.WaitAppliedOnEveryHostAsync(TimeSpan.FromSeconds(30));
    }
}

[CollectionDefinition(Name)]
public sealed class L2RulesCollection : ICollectionFixture<L2RulesFixture>
{
    public const string Name = "layer-2 rules lab";
}
