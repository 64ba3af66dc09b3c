using Fabric.Providers.AzureTables;
using Microsoft.Extensions.Options;
using Orleans.Configuration;

namespace Fabric.Silo.Hosting;

public static class SiloHostingExtensions
{
    /// <summary>
    /// Binds and validates <see cref="FabricSiloOptions"/> (and, for cluster mode, the
    /// <c>Fabric:Storage</c> section) now, before Orleans is configured from them, so a bad setting
    /// stops the process at start with a message that names it.
    /// </summary>
    public static FabricSiloOptions AddFabricSiloOptions(this WebApplicationBuilder builder)
    {
        var options = new FabricSiloOptions();
        builder.Configuration.GetSection(FabricSiloOptions.SectionName).Bind(options);
        var result = new FabricSiloOptionsValidator().Validate(Options.DefaultName, options);
        var failures = result.Failed ? result.Failures.ToList() : [];
        FabricStorageSettings.From(builder.Configuration).Validate(options.Mode, failures);
        if (failures.Count > 0)
        {
            throw new OptionsValidationException(Options.DefaultName, typeof(FabricSiloOptions), failures);
        }

        builder.Services.AddSingleton(Options.Create(options));
        return options;
    }

    /// <summary>
    /// Membership and the "fabric" grain storage, as the options choose. Embedded: localhost
    /// clustering and memory storage. AzureTable: membership and grain state in Table storage
    /// (<c>Fabric:Storage</c>), endpoints from the options, membership timings from
    /// <c>Fabric:Cluster:Membership</c> over <see cref="FabricMembershipDefaults"/>.
    /// </summary>
    public static ISiloBuilder UseFabricCluster(this ISiloBuilder silo, FabricSiloOptions options)
    {
        silo.Configure<ClusterOptions>(cluster =>
        {
            cluster.ClusterId = options.ClusterId;
            cluster.ServiceId = options.ServiceId;
        });

        switch (options.Mode)
        {
            case ClusterMode.Embedded:
                silo.UseLocalhostClustering(options.SiloPort, options.GatewayPort, serviceId: options.ServiceId, clusterId: options.ClusterId);
                silo.AddMemoryGrainStorage(FabricStorage.ProviderName);
                break;
            case ClusterMode.AzureTable:
                UseTableStorage(silo);
                silo.ConfigureEndpoints(options.AdvertisedIPAddress, options.SiloPort, options.GatewayPort, options.ListensOnAnyHostAddress);
                silo.Configure<ClusterMembershipOptions>(FabricMembershipDefaults.Apply);
                break;
            default:
                throw new NotSupportedException($"{FabricSiloOptions.SectionName}:Mode {options.Mode} is not supported by this build.");
        }

        // Registered after the defaults, so a key present in the section wins over them.
        silo.Services.Configure<ClusterMembershipOptions>(silo.Configuration.GetSection(FabricMembershipDefaults.SectionName));
        return silo;
    }

    private static void UseTableStorage(ISiloBuilder silo)
    {
        var section = silo.Configuration.GetSection(FabricStorageSettings.SectionName);
        var settings = FabricStorageSettings.From(silo.Configuration);

        // The providers bind the whole section (connection string, timeouts, retries) and name
        // "Fabric:Storage:ConnectionString" in their errors; the table names are then set apart.
        silo.UseFabricTableClustering(section);
        silo.AddFabricTableGrainStorage(FabricStorage.ProviderName, section);
        silo.Services.Configure<FabricTableClusteringOptions>(o => o.TableName = settings.TableName);
        silo.Services.Configure<FabricTableStorageOptions>(FabricStorage.ProviderName, o => o.TableName = settings.GrainTableName);
    }
}

/// <summary>Names shared by the silo's configuration and the grains' state declarations.</summary>
public static class FabricStorage
{
    public const string ProviderName = "fabric";
}
