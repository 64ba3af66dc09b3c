using System.Globalization;

namespace Fabric.Cli.Tests;

/// <summary>
/// A real silo process in embedded mode (the built Fabric.Silo.dll) on free loopback ports, and one
/// real host agent joined to it with no ports (a VTEP on a loopback address of its own), so hosts
/// are there to list; started once for the collection, stopped on dispose, also when a test fails.
/// </summary>
public sealed class SiloFixture : IAsyncLifetime
{
    /// <summary>The agent's host id.</summary>
    public const string HostId = "cli-h1";

    /// <summary>The switch the agent joins.</summary>
    public const string AgentSwitch = "agentsw";

    private SiloProcess? _silo;
    private AgentProcess? _agent;
    private string? _directory;

    public SiloProcess Silo => _silo ?? throw new InvalidOperationException("the silo is not started");

    public AgentProcess Agent => _agent ?? throw new InvalidOperationException("the agent is not started");

    /// <summary>The agent's VTEP address: a loopback address no other test uses.</summary>
    public string AgentVtep { get; } = $"127.{Random.Shared.Next(100, 200)}.{Random.Shared.Next(1, 250)}.{Random.Shared.Next(1, 250)}";

    /// <summary>A CLI whose FABRIC_SERVER is this silo.</summary>
    public CliRun Cli() => new() { Server = Silo.BaseAddress };

    public async Task InitializeAsync()
    {
        string clusterId = $"cli-tests-{Guid.NewGuid():N}";
        _directory = Directory.CreateTempSubdirectory("fabric-cli-tests-").FullName;
        try
        {
            _silo = SiloProcess.Start("silo", new Dictionary<string, string> { ["Fabric:Cluster:ClusterId"] = clusterId });
            await _silo.WaitHealthyAsync(TimeSpan.FromSeconds(90));
            using (var put = await _silo.Http.PutAsync($"api/switches/{AgentSwitch}", new StringContent("""{"mtu":1450}""", System.Text.Encoding.UTF8, "application/json")))
            {
                put.EnsureSuccessStatusCode();
            }

            _agent = AgentProcess.Start("agent", new AgentSpec
            {
                HostId = HostId,
                VtepAddress = AgentVtep,
                Switch = AgentSwitch,
                StatusFile = Path.Combine(_directory, "status.json"),
                Cluster = new Dictionary<string, string>
                {
                    ["Fabric:Cluster:ClusterId"] = clusterId,
                    ["Fabric:Cluster:Gateways:0"] = $"127.0.0.1:{_silo.GatewayPort}",
                },
                Settings = new Dictionary<string, string> { ["Fabric:Agent:VxlanPort"] = FreePorts.Udp().ToString(CultureInfo.InvariantCulture) },
            });
            await Eventually.WaitAsync(
                async () => Agent.HasExited
                    ? throw new WaitAbortedException($"the agent exited with {Agent.ExitCode}:\n{Agent.Tail()}")
                    : (await Silo.Http.GetAsync($"api/hosts/{HostId}")).IsSuccessStatusCode,
                TimeSpan.FromSeconds(60),
                $"host {HostId} registered");
        }
        catch
        {
            await DisposeAsync();
            throw;
        }
    }

    public async Task DisposeAsync()
    {
        if (Interlocked.Exchange(ref _agent, null) is { } agent)
        {
            await agent.DisposeAsync();
        }

        if (Interlocked.Exchange(ref _silo, null) is { } silo)
        {
            await silo.DisposeAsync();
        }

        if (Interlocked.Exchange(ref _directory, null) is { } directory)
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}

[CollectionDefinition(Name)]
public sealed class SiloCollection : ICollectionFixture<SiloFixture>
{
    public const string Name = "fabricctl against a silo";
}
