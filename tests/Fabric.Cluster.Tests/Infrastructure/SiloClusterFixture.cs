using System.Text;
using Azure.Data.Tables;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Orleans.Clustering.AzureStorage;
using Orleans.Configuration;
using Orleans.Runtime;

namespace Fabric.Cluster.Tests.Infrastructure;

/// <summary>
/// Azurite plus three silo processes in cluster mode (AzureTable), one cluster id per test run.
/// Started once for the collection; tests may kill or stop silos, and <see cref="EnsureRunningAsync"/>
/// brings the cluster back to three active members. Every process is killed on dispose, also when
/// starting failed.
/// </summary>
public sealed class SiloClusterFixture : IAsyncLifetime
{
    public const int Size = 3;

    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan StopGrace = TimeSpan.FromSeconds(15);

    /// <summary>How long an API call may take; a call caught by a silo kill fails well within the failover bound.</summary>
    private static readonly TimeSpan HttpTimeout = TimeSpan.FromSeconds(10);

    private readonly List<SiloProcess> _silos = [];
    private readonly List<SiloProcess> _retired = [];
    private Azurite? _azurite;
    private int _started;

    public string ClusterId { get; } = "cluster-tests-" + Guid.NewGuid().ToString("N")[..12];

    /// <summary>The silos currently running (killed or stopped ones are removed).</summary>
    public IReadOnlyList<SiloProcess> Silos => _silos;

    /// <summary>The configuration every silo gets, and the test's Orleans client reads its section of.</summary>
    public IReadOnlyDictionary<string, string> Settings => new Dictionary<string, string>
    {
        ["Fabric:Cluster:Mode"] = "AzureTable",
        ["Fabric:Cluster:ClusterId"] = ClusterId,
        ["Fabric:Storage:ConnectionString"] = (_azurite ?? throw new InvalidOperationException("Azurite is not started")).ConnectionString,
    };

    public async Task InitializeAsync()
    {
        try
        {
            _azurite = await Azurite.StartAsync();
            await EnsureRunningAsync();
        }
        catch
        {
            await DisposeAsync();
            throw;
        }
    }

    public async Task DisposeAsync()
    {
        foreach (var silo in _silos.Concat(_retired))
        {
            await silo.DisposeAsync();
        }

        _silos.Clear();
        _retired.Clear();
        if (Interlocked.Exchange(ref _azurite, null) is { } azurite)
        {
            await azurite.DisposeAsync();
        }
    }

    /// <summary>Starts silos until <see cref="Size"/> are running, then waits until all are active members.</summary>
    public async Task EnsureRunningAsync()
    {
        foreach (var exited in _silos.Where(s => s.HasExited).ToList())
        {
            Retire(exited);
        }

        var starting = new List<SiloProcess>();
        while (_silos.Count < Size)
        {
            var silo = SiloProcess.Start($"silo{++_started}", Settings, httpTimeout: HttpTimeout);
            _silos.Add(silo);
            starting.Add(silo);
        }

        await Task.WhenAll(starting.Select(s => s.WaitHealthyAsync(StartTimeout)));
        await WaitForActiveMembersAsync(_silos, StartTimeout);
    }

    /// <summary>SIGKILL one silo; it leaves <see cref="Silos"/>.</summary>
    public void Kill(SiloProcess silo)
    {
        silo.Kill();
        Retire(silo);
    }

    /// <summary>Graceful stop of every silo (SIGTERM, bounded wait, then SIGKILL).</summary>
    /// <returns>How many ended by themselves within the grace period.</returns>
    public async Task<int> StopAllAsync()
    {
        var silos = _silos.ToList();
        var graceful = await Task.WhenAll(silos.Select(s => s.StopAsync(StopGrace)));
        foreach (var silo in silos)
        {
            Retire(silo);
        }

        return graceful.Count(stopped => stopped);
    }

    /// <summary>The running silo whose silo-to-silo port is <paramref name="address"/>'s.</summary>
    public SiloProcess? SiloAt(SiloAddress? address) =>
        address is null ? null : _silos.FirstOrDefault(s => s.SiloPort == address.Endpoint.Port);

    /// <summary>Waits until the membership table's active silos are exactly <paramref name="expected"/>.</summary>
    public async Task WaitForActiveMembersAsync(IReadOnlyCollection<SiloProcess> expected, TimeSpan timeout)
    {
        var want = expected.Select(s => s.SiloPort).Order().ToArray();
        await using var client = await ConnectAsync();
        var management = client.Client.GetGrain<IManagementGrain>(0);
        int[] active = [];
        try
        {
            // A gateway that went away fails the call; the client moves to another one and the next read succeeds.
            await Eventually.WaitAsync(
                async () =>
                {
                    var hosts = await management.GetHosts(onlyActive: true);
                    active = hosts.Keys.Select(a => a.Endpoint.Port).Order().ToArray();
                    return active.SequenceEqual(want);
                },
                timeout,
                $"active silos [{string.Join(", ", want)}]");
        }
        catch (TimeoutException exception)
        {
            throw new TimeoutException(
                $"active silos were [{string.Join(", ", active)}], expected [{string.Join(", ", want)}] after {timeout.TotalSeconds} s ({exception.Message})\n{Diagnostics()}", exception);
        }
    }

    /// <summary>
    /// An Orleans client that finds the gateways in the membership table, configured from the same
    /// <c>Fabric:Storage</c> section the silos read, with Orleans' client-side provider as the host agent uses it.
    /// </summary>
    public async Task<ClusterClientHost> ConnectAsync()
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(Settings!);
        builder.UseOrleansClient(client =>
        {
            client.Configure<ClusterOptions>(o =>
            {
                o.ClusterId = ClusterId;
                o.ServiceId = "fabric";
            });
            var storage = builder.Configuration.GetSection("Fabric:Storage");
            client.UseAzureStorageClustering((OptionsBuilder<AzureStorageGatewayOptions> options) => options.Configure(o =>
            {
                o.TableServiceClient = new TableServiceClient(storage["ConnectionString"]);
                o.TableName = storage["TableName"] ?? "FabricMembership";
            }));
            client.Configure<GatewayOptions>(o => o.GatewayListRefreshPeriod = TimeSpan.FromSeconds(1));
        });
        var host = builder.Build();
        try
        {
            await host.StartAsync();
        }
        catch
        {
            host.Dispose();
            throw;
        }

        return new ClusterClientHost(host);
    }

    /// <summary>The last lines of every silo's output, for failure messages.</summary>
    public string Diagnostics()
    {
        var text = new StringBuilder();
        foreach (var silo in _silos.Concat(_retired))
        {
            text.AppendLine($"--- {silo.Name} pid {silo.Pid} http {silo.HttpPort} silo {silo.SiloPort} gateway {silo.GatewayPort} exited={silo.HasExited}");
            text.AppendLine(silo.Tail(25));
        }

        return text.ToString();
    }

    private void Retire(SiloProcess silo)
    {
        _silos.Remove(silo);
        _retired.Add(silo);
    }
}

/// <summary>A started Orleans client host; disposing stops it.</summary>
public sealed class ClusterClientHost(IHost host) : IAsyncDisposable
{
    public IClusterClient Client { get; } = host.Services.GetRequiredService<IClusterClient>();

    public async ValueTask DisposeAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        try
        {
            await host.StopAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
        }

        host.Dispose();
    }
}

[CollectionDefinition(Name)]
public sealed class SiloClusterCollection : ICollectionFixture<SiloClusterFixture>
{
    public const string Name = "three silo processes";
}
