using System.Net;
using Orleans.Configuration;
using Microsoft.Extensions.Options;

namespace Fabric.Silo.Hosting;

public static class SiloHostingExtensions
{
    /// <summary>
    /// Binds and validates <see cref="FabricSiloOptions"/> now, before Orleans is configured from
    /// them, so a bad setting stops the process at start with a message that names it.
    /// </summary>
    public static FabricSiloOptions AddFabricSiloOptions(this WebApplicationBuilder builder)
    {
        var options = new FabricSiloOptions();
        builder.Configuration.GetSection(FabricSiloOptions.SectionName).Bind(options);
        var result = new FabricSiloOptionsValidator().Validate(Options.DefaultName, options);
        if (result.Failed)
        {
            throw new OptionsValidationException(Options.DefaultName, typeof(FabricSiloOptions), result.Failures);
        }

        builder.Services.AddSingleton(Options.Create(options));
        return options;
    }

    /// <summary>Membership and the "fabric" grain storage, as the options choose.</summary>
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
            default:
                throw new NotSupportedException($"{FabricSiloOptions.SectionName}:Mode {options.Mode} is not supported by this build.");
        }

        return silo;
    }

    private static IPAddress AdvertisedAddress(FabricSiloOptions options)
        => options.AdvertisedAddress is { } text ? IPAddress.Parse(text) : IPAddress.Loopback;
}

/// <summary>Names shared by the silo's configuration and the grains' state declarations.</summary>
public static class FabricStorage
{
    public const string ProviderName = "fabric";
}
