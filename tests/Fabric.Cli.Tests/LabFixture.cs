namespace Fabric.Cli.Tests;

/// <summary>
/// A small real fabric for the commands that need traffic: the namespace lab with 2 hosts × 1 VM,
/// a silo process, switch "dvs" with port group "web" (VNI 7001) on each host's vm1, and one agent
/// per host; converged (flood lists in the API and in both agents) before the tests run, torn down
/// always (processes by PID, namespaces by prefix).
/// </summary>
public sealed class LabFixture : IAsyncLifetime
{
    public const long Vni = 7001;

    private FabricDeployment? _fabric;

    public FabricDeployment Fabric => _fabric ?? throw new InvalidOperationException("the lab is not up");

    public SiloProcess Silo => Fabric.Silos[0]!;

    public CliRun Cli() => new() { Server = Silo.BaseAddress };

    public async Task InitializeAsync()
    {
        try
        {
            _fabric = await FabricDeployment.UpAsync("fcli", hosts: 2, vms: 1, groups: 1);
            await Fabric.StartSilo(0).WaitHealthyAsync(TimeSpan.FromSeconds(90));
            await Fabric.ConfigureSwitchAsync([new PortGroupSpec("web", $$"""{"vni":{{Vni}}}""")]);
            Fabric.StartAgent(1, [new PortBinding("vm1", "web")]);
            Fabric.StartAgent(2, [new PortBinding("vm1", "web")]);
            var floodLists = new Dictionary<long, int[]> { [Vni] = [1, 2] };
            await Fabric.WaitFloodListsAsync(floodLists, TimeSpan.FromSeconds(60));
            await Fabric.WaitAgentFloodListsAsync(floodLists, [1, 2], TimeSpan.FromSeconds(60));
        }
        catch (Exception ex)
        {
            string log = _fabric?.Diagnostics() ?? string.Empty;
            await DisposeAsync();
            throw new InvalidOperationException($"the lab did not come up: {ex.Message}\n{log}", ex);
        }
    }

    public async Task DisposeAsync()
    {
        if (Interlocked.Exchange(ref _fabric, null) is { } fabric)
        {
            await fabric.DisposeAsync();
        }
    }
}

[CollectionDefinition(Name)]
public sealed class LabCollection : ICollectionFixture<LabFixture>
{
    public const string Name = "fabricctl on a namespace lab";
}
