using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Serialization;
using Orleans.Storage;

namespace Fabric.Silo.Hosting;

/// <summary>How the silo host is put together: options, cluster mode, storage, and its start-up check.</summary>
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
                silo.UseFabricTableStorage();
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

    /// <summary>
    /// Membership and the "fabric" grain storage in Azure Table storage, through Orleans' own providers,
    /// configured from <c>Fabric:Storage</c> (<see cref="FabricStorageSettings"/>): the membership table
    /// <c>TableName</c>, grain state in <c>GrainTableName</c> written with Orleans' binary serializer.
    /// </summary>
    public static ISiloBuilder UseFabricTableStorage(this ISiloBuilder silo)
    {
        var settings = FabricStorageSettings.From(silo.Configuration);
        var tables = settings.CreateServiceClient();

        silo.UseAzureStorageClustering(options => options.Configure(o =>
        {
            o.TableServiceClient = tables;
            o.TableName = settings.TableName;
        }));

        // Orleans' binary serializer, not the silo's default JSON one: grain state is
        // [GenerateSerializer] types (version tolerant by [Id]) holding values such as IPAddress and
        // MacAddress dictionary keys that JSON cannot read back (found by the Chaos suite: grains
        // re-activated after a silo died failed every call).
        silo.AddAzureTableGrainStorage(FabricStorage.ProviderName, options => options.Configure<Serializer>((o, serializer) =>
        {
            o.TableServiceClient = tables;
            o.TableName = settings.GrainTableName;
            o.GrainStorageSerializer = new OrleansGrainStorageSerializer(serializer);

            // A cleared state (a host that left) removes its row rather than leaving an empty one.
            o.DeleteStateOnClear = true;
        }));
        return silo;
    }

    /// <summary>
    /// Cluster mode: checks, before the silo starts, that the table endpoint answers and accepts the
    /// account (<see cref="TableStoragePreflight"/>), so a wrong or unreachable endpoint stops the process
    /// within <c>Fabric:Storage:InitializationTimeout</c> with one line naming the setting. Embedded: nothing.
    /// </summary>
    /// <exception cref="FabricStorageUnavailableException">The table endpoint did not answer or refused the account.</exception>
    public static async Task CheckFabricStorageAsync(this WebApplication app)
    {
        if (app.Services.GetRequiredService<IOptions<FabricSiloOptions>>().Value.Mode != ClusterMode.AzureTable)
        {
            return;
        }

        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(TableStoragePreflight));
        await TableStoragePreflight.CheckAsync(FabricStorageSettings.From(app.Configuration), logger, app.Lifetime.ApplicationStopping);
    }
}

/// <summary>Names shared by the silo's configuration and the grains' state declarations.</summary>
public static class FabricStorage
{
    /// <summary>The grain storage provider every Fabric grain keeps its state in.</summary>
    public const string ProviderName = "fabric";
}
