using System.Net;
using Azure.Core;
using Azure.Data.Tables;
using Fabric.HostAgent.Configuration;
using Fabric.HostAgent.Control;
using Fabric.HostAgent.Forwarding;
using Fabric.HostAgent.LocalPorts;
using Fabric.HostAgent.Management;
using Fabric.HostAgent.Ports;
using Fabric.HostAgent.Status;
using Microsoft.Extensions.Options;
using Orleans.Clustering.AzureStorage;
using Orleans.Configuration;

namespace Fabric.HostAgent.Hosting;

/// <summary>Where the agent finds the silos' gateways: section <c>Fabric:Cluster</c>, shared with the silo.</summary>
public sealed class AgentClusterOptions
{
    public const string SectionName = "Fabric:Cluster";

    /// <summary>Embedded: a static gateway list (default the local silo); AzureTable: the membership table.</summary>
    public string Mode { get; set; } = "Embedded";

    public string ClusterId { get; set; } = "fabric";

    public string ServiceId { get; set; } = "fabric";

    /// <summary>Static gateways, "address:port", used in Embedded mode; empty means the local silo, 127.0.0.1:30000.</summary>
    public List<string> Gateways { get; set; } = [];
}

public static partial class AgentHostingExtensions
{
    /// <summary>Binds and validates <see cref="AgentOptions"/> at start; a bad setting stops the agent with a message naming it.</summary>
    public static AgentOptions AddFabricAgentOptions(this HostApplicationBuilder builder)
    {
        var options = new AgentOptions();
        builder.Configuration.GetSection(AgentOptions.SectionName).Bind(options);
        var result = new AgentOptionsValidator().Validate(Options.DefaultName, options);
        if (result.Failed)
        {
            throw new OptionsValidationException(Options.DefaultName, typeof(AgentOptions), result.Failures);
        }

        builder.Services.AddSingleton(Options.Create(options));
        builder.Services.TryAddSingletonTimeProvider();
        return options;
    }

    /// <summary>
    /// The data plane and its own upkeep, registered first: the pipeline and its tables (warm-started
    /// from the forwarding cache when there is a usable one), the ports and VTEP socket with their
    /// receive loops, MAC ageing and cache saves, the status file and the metrics. None of it waits
    /// on the cluster.
    /// </summary>
    public static IServiceCollection AddFabricDataPlane(this IServiceCollection services)
    {
        services.AddSingleton(sp => new DataPlaneCounters(sp.GetRequiredService<IOptions<AgentOptions>>().Value.MaxPorts));
        services.AddSingleton(sp => new LocalMacTable(sp.GetRequiredService<IOptions<AgentOptions>>().Value.MaxPorts));
        services.AddSingleton<PortRegistry>();
        services.AddSingleton<PortAttacher>();
        services.AddSingleton<ExternalMacTable>();
        services.AddSingleton<PortOutput>();
        services.AddSingleton(sp =>
        {
            var options = sp.GetRequiredService<IOptions<AgentOptions>>().Value;
            var counters = sp.GetRequiredService<DataPlaneCounters>();
            var ports = sp.GetRequiredService<PortRegistry>().Ports;
            var initial = WarmStart.InitialTables(options, ports, counters, sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(WarmStart)));
            return new DataPlane(
                initial,
                sp.GetRequiredService<LocalMacTable>(),
                counters,
                sp.GetRequiredService<PortOutput>(),
                Wire.Ipv4Address.FromIPAddress(IPAddress.Parse(options.VtepAddress)),
                (ushort)options.VxlanPort,
                sp.GetRequiredService<ExternalMacTable>(),
                options.SourcePortRange,
                sp.GetRequiredService<Dhcp.DhcpPunts>());
        });
        services.AddSingleton<Dhcp.DhcpPunts>();
        services.AddSingleton<ReceiveLoops>();
        services.AddHostedService<DataPlaneHost>();
        services.AddHostedService<LocalPortApi>();
        services.AddSingleton<Management.ManagementAddress>();
        services.AddSingleton<Mirroring.LocalMirrors>();
        services.AddHostedService<Management.AgentEndpoint>();
        services.AddHostedService<ForwardingHousekeeping>();
        services.AddHostedService<StatusFileWriter>();
        services.AddFabricAgentMetrics();
        return services;
    }

    /// <summary>The Orleans client of the silos' gateways, retrying until the cluster answers.</summary>
    public static HostApplicationBuilder AddFabricClusterClient(this HostApplicationBuilder builder)
    {
        var cluster = new AgentClusterOptions();
        builder.Configuration.GetSection(AgentClusterOptions.SectionName).Bind(cluster);
        builder.UseOrleansClient(client =>
        {
            client.Configure<ClusterOptions>(o =>
            {
                o.ClusterId = cluster.ClusterId;
                o.ServiceId = cluster.ServiceId;
            });
            if (string.Equals(cluster.Mode, "AzureTable", StringComparison.OrdinalIgnoreCase))
            {
                var storage = builder.Configuration.GetSection(AgentStorageSectionName);
                var connectionString = RequireConnectionString(storage);
                var tableName = storage["TableName"] is { Length: > 0 } name ? name : DefaultMembershipTableName;
                client.UseAzureStorageClustering((OptionsBuilder<AzureStorageGatewayOptions> options) => options.Configure(o =>
                {
                    // Built when the client starts, after the data plane is up: the Azure client stack
                    // costs start-up time that forwarding should not wait for.
                    o.TableServiceClient = CreateMembershipTableClient(storage, connectionString);
                    o.TableName = tableName;
                }));
            }
            else
            {
                var gateways = cluster.Gateways.Count > 0 ? cluster.Gateways : ["127.0.0.1:30000"];
                var endpoints = gateways.Select(ParseGateway).ToArray();
                client.UseStaticClustering(endpoints);
            }

            // Learn of silos that joined or died within seconds, not the default minute, so a
            // killed gateway is replaced quickly.
            client.Configure<GatewayOptions>(o => o.GatewayListRefreshPeriod = TimeSpan.FromSeconds(5));
            client.UseConnectionRetryFilter(RetryForeverAsync);
        });
        // The control side: liveness, the replica of the cluster state, and the learn route.
        builder.Services.AddSingleton<ControlSignals>();
        builder.Services.AddSingleton<ControlPlaneMetrics>();
        builder.Services.AddSingleton<Heartbeat>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<Heartbeat>());
        builder.Services.AddHostedService<ReplicaSync>();
        builder.Services.AddHostedService<LearnPublisher>();
        builder.Services.AddHostedService<PortRequestLoop>();
        builder.Services.AddHostedService<Dhcp.DhcpServer>();
        builder.Services.AddHostedService<HostNetworks.HostNetworks>();
        return builder;
    }

    private static bool s_reported;

    private static async Task<bool> RetryForeverAsync(Exception exception, CancellationToken cancellationToken)
    {
        if (!s_reported)
        {
            s_reported = true;
            Console.Error.WriteLine($"fabric-agent: cannot reach the cluster yet ({exception.Message.Split('\n')[0]}); retrying every 2 s, forwarding meanwhile.");
        }

        await Task.Delay(TimeSpan.FromSeconds(2), cancellationToken);
        return true;
    }

    // The silos' section: the agent reads the same connection string and membership table name.
    private const string AgentStorageSectionName = "Fabric:Storage";
    private const string DefaultMembershipTableName = "FabricMembership";

    private static string RequireConnectionString(IConfigurationSection storage)
    {
        var connectionString = storage["ConnectionString"];
        return string.IsNullOrWhiteSpace(connectionString)
            ? throw new OptionsValidationException(Options.DefaultName, typeof(AgentClusterOptions),
                [$"{storage.Path}:ConnectionString is required when {AgentClusterOptions.SectionName}:Mode is AzureTable."])
            : connectionString;
    }

    /// <summary>
    /// A table client from <c>Fabric:Storage</c>: MaxRetries (3) and NetworkTimeout (10 s) as the silos
    /// use them, so a gateway-list refresh during a storage outage fails in seconds and the client keeps
    /// its last list.
    /// </summary>
    private static TableServiceClient CreateMembershipTableClient(IConfigurationSection storage, string connectionString)
    {
        var options = new TableClientOptions();
        options.Retry.Mode = RetryMode.Exponential;
        options.Retry.MaxRetries = storage.GetValue("MaxRetries", 3);
        options.Retry.Delay = TimeSpan.FromMilliseconds(200);
        options.Retry.MaxDelay = TimeSpan.FromSeconds(2);
        options.Retry.NetworkTimeout = storage.GetValue("NetworkTimeout", TimeSpan.FromSeconds(10));
        try
        {
            return new TableServiceClient(connectionString, options);
        }
        catch (Exception exception) when (exception is FormatException or ArgumentException or InvalidOperationException)
        {
            // Never echo the connection string: it carries the account key.
            throw new OptionsValidationException(Options.DefaultName, typeof(AgentClusterOptions),
                [$"{storage.Path}:ConnectionString is not a valid Azure Storage connection string ({exception.Message})."]);
        }
    }

    private static IPEndPoint ParseGateway(string text)
        => IPEndPoint.TryParse(text, out var endpoint) && endpoint.Port != 0
            ? endpoint
            : throw new OptionsValidationException(Options.DefaultName, typeof(AgentClusterOptions), [$"{AgentClusterOptions.SectionName}:Gateways entry '{text}' is not address:port."]);

    private static void TryAddSingletonTimeProvider(this IServiceCollection services)
    {
        if (!services.Any(d => d.ServiceType == typeof(TimeProvider)))
        {
            services.AddSingleton(TimeProvider.System);
        }
    }
}
