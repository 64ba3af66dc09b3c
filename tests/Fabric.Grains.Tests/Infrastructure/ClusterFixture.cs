using Fabric.Grains.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Configuration;
using Orleans.Runtime.Hosting;
using Orleans.TestingHost;

namespace Fabric.Grains.Tests.Infrastructure;

/// <summary>One three-silo cluster for every cluster test, started once and always torn down.</summary>
public sealed class ClusterFixture : IAsyncLifetime
{
    /// <summary>Short enough that a liveness test waits a few seconds, long enough that a busy 2-core machine does not kill live hosts.</summary>
    public static readonly TimeSpan DeadAfter = TimeSpan.FromSeconds(2);

    /// <summary>How long a MAC learned behind an external VTEP lives without being learned again.</summary>
    public static readonly TimeSpan ExternalAgingTime = TimeSpan.FromSeconds(3);

    public TestCluster Cluster { get; private set; } = null!;

    public IClusterClient Client => Cluster.Client;

    public async Task InitializeAsync()
    {
        var builder = new TestClusterBuilder(3);
        builder.AddSiloBuilderConfigurator<SiloConfigurator>();
        builder.AddClientBuilderConfigurator<ClientConfigurator>();
        Cluster = builder.Build();
        await Cluster.DeployAsync();
    }

    public async Task DisposeAsync()
    {
        await Cluster.StopAllSilosAsync();
        await Cluster.DisposeAsync();
    }

    private sealed class SiloConfigurator : ISiloConfigurator
    {
        public void Configure(ISiloBuilder siloBuilder)
        {
            siloBuilder.AddFabricGrains();
            siloBuilder.Services.AddGrainStorage("fabric", static (services, _) => ActivatorUtilities.CreateInstance<SharedGrainStorage>(services));
            // MACs behind external VTEPs age within a test's patience (production: 300 s).
            siloBuilder.Services.Configure<MacMobilityOptions>(o => o.ExternalAgingTime = ExternalAgingTime);
            siloBuilder.Services.Configure<HostLivenessOptions>(o =>
            {
                o.DeadAfter = DeadAfter;
                o.CheckInterval = TimeSpan.FromMilliseconds(250);
            });

            // Declare a killed silo dead in seconds rather than the production tens of seconds.
            siloBuilder.Configure<ClusterMembershipOptions>(o =>
            {
                o.ProbeTimeout = TimeSpan.FromSeconds(1);
                o.NumMissedProbesLimit = 2;
                o.NumVotesForDeathDeclaration = 1;
                o.TableRefreshTimeout = TimeSpan.FromSeconds(1);
            });
        }
    }

    private sealed class ClientConfigurator : IClientBuilderConfigurator
    {
        // A call caught by a silo kill fails in seconds and is retried, instead of waiting the default 30 s.
        public void Configure(Microsoft.Extensions.Configuration.IConfiguration configuration, IClientBuilder clientBuilder)
            => clientBuilder.Configure<ClientMessagingOptions>(o => o.ResponseTimeout = TimeSpan.FromSeconds(10));
    }
}

[CollectionDefinition(Name)]
public sealed class ClusterCollection : ICollectionFixture<ClusterFixture>
{
    public const string Name = "Fabric cluster";
}
