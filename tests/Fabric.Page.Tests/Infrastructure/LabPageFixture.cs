namespace Fabric.Page.Tests;

/// <summary>
/// A whole fabric on a namespace lab, 3 hosts × 2 VMs: port groups "web" (VNI <see cref="WebVni"/>,
/// the VMs vm1) and "db" (VNI <see cref="DbVni"/>, the VMs vm2), a silo, one agent per host, and a
/// headless Chromium. Built once for the collection, torn down always (processes by PID, namespaces
/// by prefix).
/// </summary>
public sealed class LabPageFixture : IAsyncLifetime
{
    public const int Hosts = 3;
    public const long WebVni = 5001;
    public const long DbVni = 5002;

    private static readonly IReadOnlyList<PortBinding> Ports = [new("vm1", "web"), new("vm2", "db")];

    private FabricDeployment? _fabric;
    private HeadlessBrowser? _browser;

    /// <summary>The deployment: lab, silo, agents.</summary>
    public FabricDeployment Fabric => _fabric ?? throw new InvalidOperationException("the lab is not up");

    /// <summary>The browser.</summary>
    public HeadlessBrowser Browser => _browser ?? throw new InvalidOperationException("the browser is not started");

    /// <summary>The silo's HTTP address.</summary>
    public Uri BaseAddress => Fabric.Silos[0]!.BaseAddress;

    /// <summary>Every segment's hosts when all agents run.</summary>
    public static IReadOnlyDictionary<long, int[]> FloodLists { get; } = new Dictionary<long, int[]> { [WebVni] = [1, 2, 3], [DbVni] = [1, 2, 3] };

    public async Task InitializeAsync()
    {
        try
        {
            _fabric = await FabricDeployment.UpAsync("fp", Hosts, vms: 2, groups: 2);
            await Fabric.StartSilo(0).WaitHealthyAsync(TimeSpan.FromSeconds(90));
            await Fabric.ConfigureSwitchAsync([new("web", $$$"""{"vni":{{{WebVni}}},"ipv4":{"subnet":"192.168.100.0/24","gateway":"192.168.100.1"}}"""), new("db", $$"""{"vni":{{DbVni}}}""")]);
            for (int host = 1; host <= Hosts; host++)
            {
                Fabric.StartAgent(host, Ports);
            }

            await Fabric.WaitFloodListsAsync(FloodLists, TimeSpan.FromSeconds(60));
            await Fabric.WaitAgentFloodListsAsync(FloodLists, Enumerable.Range(1, Hosts), TimeSpan.FromSeconds(60));
            _browser = await HeadlessBrowser.LaunchAsync();
        }
        catch (Exception ex)
        {
            string diagnostics = _fabric?.Diagnostics() ?? string.Empty;
            await DisposeAsync();
            throw new InvalidOperationException($"the lab did not come up: {ex.Message}\n{diagnostics}", ex);
        }
    }

    /// <summary>Restarts host <paramref name="host"/>'s agent if it is not running, and waits until it is back in every flood list.</summary>
    public async Task EnsureAgentRunsAsync(int host)
    {
        if (Fabric.Agents[host] is { HasExited: false })
        {
            return;
        }

        Fabric.StartAgent(host);
        await Fabric.WaitFloodListsAsync(FloodLists, TimeSpan.FromSeconds(60));
    }

    public async Task DisposeAsync()
    {
        if (Interlocked.Exchange(ref _browser, null) is { } browser)
        {
            await browser.DisposeAsync();
        }

        if (Interlocked.Exchange(ref _fabric, null) is { } fabric)
        {
            await fabric.DisposeAsync();
        }
    }
}

[CollectionDefinition(Name)]
public sealed class LabPageCollection : ICollectionFixture<LabPageFixture>
{
    public const string Name = "lab and browser";
}
