using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Orleans;
using Orleans.Configuration;
using Orleans.Hosting;
using Orleans.Messaging;

namespace Fabric.Providers.AzureTables;

/// <summary>Builder extensions that put a silo's membership, or a client's gateway list, in Azure Table storage.</summary>
public static class FabricTableClusteringExtensions
{
    /// <summary>Silo: keep cluster membership in the table described by <paramref name="configure"/>.</summary>
    public static ISiloBuilder UseFabricTableClustering(this ISiloBuilder builder, Action<FabricTableClusteringOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        return builder.ConfigureServices(services => AddSiloServices(services, o => o.Configure(configure)));
    }

    /// <summary>
    /// Silo: keep cluster membership in Azure Table storage, settings bound from <paramref name="section"/>
    /// (e.g. "Fabric:Storage": ConnectionString, TableName, NetworkTimeout, MaxRetries, InitializationTimeout).
    /// </summary>
    public static ISiloBuilder UseFabricTableClustering(this ISiloBuilder builder, IConfiguration section)
    {
        ArgumentNullException.ThrowIfNull(section);
        return builder.ConfigureServices(services => AddSiloServices(services, o => Bind(o, section)));
    }

    /// <summary>Client: find gateways in the membership table described by <paramref name="configure"/>.</summary>
    public static IClientBuilder UseFabricTableClustering(this IClientBuilder builder, Action<FabricTableClusteringOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        return builder.ConfigureServices(services => AddClientServices(services, o => o.Configure(configure)));
    }

    /// <summary>Client: find gateways in the membership table, settings bound from <paramref name="section"/>.</summary>
    public static IClientBuilder UseFabricTableClustering(this IClientBuilder builder, IConfiguration section)
    {
        ArgumentNullException.ThrowIfNull(section);
        return builder.ConfigureServices(services => AddClientServices(services, o => Bind(o, section)));
    }

    private static void Bind(OptionsBuilder<FabricTableClusteringOptions> options, IConfiguration section)
    {
        options.Bind(section);
        if (section is IConfigurationSection { Path: { Length: > 0 } path })
        {
            options.PostConfigure(o => o.ConnectionStringSettingName = path + ":" + nameof(o.ConnectionString));
        }
    }

    private static void AddSiloServices(IServiceCollection services, Action<OptionsBuilder<FabricTableClusteringOptions>> configure)
    {
        configure(services.AddOptions<FabricTableClusteringOptions>());
        services.AddSingleton<IMembershipTable, FabricTableMembershipTable>();
        AddValidator(services);
    }

    private static void AddClientServices(IServiceCollection services, Action<OptionsBuilder<FabricTableClusteringOptions>> configure)
    {
        configure(services.AddOptions<FabricTableClusteringOptions>());
        services.AddSingleton<IGatewayListProvider, FabricTableGatewayListProvider>();
        AddValidator(services);
    }

    private static void AddValidator(IServiceCollection services) =>
        services.AddSingleton<IConfigurationValidator>(sp => new FabricTableClusteringOptionsValidator(
            sp.GetRequiredService<IOptions<FabricTableClusteringOptions>>().Value,
            sp.GetRequiredService<IOptions<ClusterOptions>>().Value.ClusterId));
}
