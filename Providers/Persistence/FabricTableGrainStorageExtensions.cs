using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Orleans;
using Orleans.Hosting;
using Orleans.Runtime.Hosting;
using Orleans.Storage;

namespace Fabric.Providers.AzureTables;

/// <summary>Builder extensions that add a named Fabric grain storage provider on Azure Table storage.</summary>
public static class FabricTableGrainStorageExtensions
{
    /// <summary>Adds grain storage provider <paramref name="name"/> (e.g. "fabric") configured by <paramref name="configure"/>.</summary>
    public static ISiloBuilder AddFabricTableGrainStorage(this ISiloBuilder builder, string name, Action<FabricTableStorageOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        return builder.ConfigureServices(services => services.AddFabricTableGrainStorage(name, o => o.Configure(configure)));
    }

    /// <summary>
    /// Adds grain storage provider <paramref name="name"/> with settings bound from <paramref name="section"/>
    /// (e.g. "Fabric:Storage": ConnectionString, TableName, NetworkTimeout, MaxRetries, InitializationTimeout).
    /// </summary>
    public static ISiloBuilder AddFabricTableGrainStorage(this ISiloBuilder builder, string name, IConfiguration section)
    {
        ArgumentNullException.ThrowIfNull(section);
        return builder.ConfigureServices(services => services.AddFabricTableGrainStorage(name, o =>
        {
            o.Bind(section);
            if (section is IConfigurationSection { Path: { Length: > 0 } path })
            {
                o.PostConfigure(options => options.ConnectionStringSettingName = path + ":" + nameof(options.ConnectionString));
            }
        }));
    }

    /// <summary>Adds grain storage provider <paramref name="name"/> to <paramref name="services"/>.</summary>
    public static IServiceCollection AddFabricTableGrainStorage(this IServiceCollection services, string name, Action<OptionsBuilder<FabricTableStorageOptions>> configure)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(configure);
        configure(services.AddOptions<FabricTableStorageOptions>(name));
        // Orleans' own binary serializer by default, not the silo's default JSON one: grain state is
        // [GenerateSerializer] types (version tolerant by [Id]) holding values such as IPAddress and
        // MacAddress dictionary keys that JSON cannot read back (found by the Chaos suite: grains
        // re-activated after a silo died failed every call).
        services.AddTransient<IPostConfigureOptions<FabricTableStorageOptions>>(sp => new PostConfigureOptions<FabricTableStorageOptions>(name, options =>
            options.GrainStorageSerializer ??= new OrleansGrainStorageSerializer(sp.GetRequiredService<Orleans.Serialization.Serializer>())));
        services.AddSingleton<IConfigurationValidator>(sp => new FabricTableStorageOptionsValidator(
            sp.GetRequiredService<IOptionsMonitor<FabricTableStorageOptions>>().Get(name), name));
        return services.AddGrainStorage(name, FabricTableGrainStorage.Create);
    }
}
