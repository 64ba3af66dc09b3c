using Fabric.Grains.Hosting;
using Orleans.TestingHost;

namespace Fabric.HostAgent.Tests.Control;

/// <summary>
/// One in-process silo with the real grains on memory storage, for the agent's control services to
/// talk to: started once for the collection, always torn down.
/// </summary>
public sealed class GrainsFixture : IAsyncLifetime
{
    private static int s_nextVni = 7_000_000 + Random.Shared.Next(100_000);

    /// <summary>The cluster; its <see cref="TestCluster.Client"/> is what the agent's services call.</summary>
    public TestCluster Cluster { get; private set; } = null!;

    /// <summary>A VNI no other test of this run uses.</summary>
    public static uint NextVni() => (uint)Interlocked.Increment(ref s_nextVni);

    public async Task InitializeAsync()
    {
        var builder = new TestClusterBuilder(1);
        builder.AddSiloBuilderConfigurator<Silo>();
        Cluster = builder.Build();
        await Cluster.DeployAsync();
    }

    public async Task DisposeAsync()
    {
        await Cluster.StopAllSilosAsync();
        await Cluster.DisposeAsync();
    }

    private sealed class Silo : ISiloConfigurator
    {
        public void Configure(ISiloBuilder siloBuilder) => siloBuilder.AddFabricGrains().AddMemoryGrainStorage("fabric");
    }
}

[CollectionDefinition(Name)]
public sealed class GrainsCollection : ICollectionFixture<GrainsFixture>
{
    public const string Name = "agent control against real grains";
}
