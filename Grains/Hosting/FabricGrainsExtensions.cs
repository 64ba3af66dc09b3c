using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Fabric.Grains.Hosting;

public static class FabricGrainsExtensions
{
    /// <summary>
    /// Registers what the control-plane grains need: their options (bound from <c>Fabric:HostLiveness</c>,
    /// <c>Fabric:MacMobility</c>, <c>Fabric:Observers</c> and validated at start) and
    /// <see cref="TimeProvider.System"/> unless a <see cref="TimeProvider"/> is already registered.
    /// Grain state uses the storage provider named <c>"fabric"</c>, which the host registers.
    /// </summary>
    public static ISiloBuilder AddFabricGrains(this ISiloBuilder builder)
    {
        builder.Services.AddFabricGrains();
        return builder;
    }

    public static IServiceCollection AddFabricGrains(this IServiceCollection services)
    {
        services.TryAddSingleton(TimeProvider.System);
        services.AddOptions<HostLivenessOptions>().BindConfiguration(HostLivenessOptions.SectionName).ValidateOnStart();
        services.AddOptions<MacMobilityOptions>().BindConfiguration(MacMobilityOptions.SectionName).ValidateOnStart();
        services.AddOptions<ObserverOptions>().BindConfiguration(ObserverOptions.SectionName).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<HostLivenessOptions>, HostLivenessOptionsValidator>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<MacMobilityOptions>, MacMobilityOptionsValidator>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<ObserverOptions>, ObserverOptionsValidator>());
        services.AddHostedService<HostLivenessSweep>();
        return services;
    }
}
