using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Fabric.Grains.Hosting;

/// <summary>Adds Fabric's control-plane grains to a silo.</summary>
public static class FabricGrainsExtensions
{
    /// <summary>
    /// The name of the meter the grains report on (System.Diagnostics.Metrics): MAC table sizes,
    /// frozen MACs, duplicate IPs and moves per VNI, hosts alive and dead, and the learn→push latency
    /// histogram. An exporter subscribes to it by this name (the silo's <c>/metrics</c> does).
    /// </summary>
    public const string MeterName = Diagnostics.GrainMetrics.MeterName;

    /// <summary>
    /// Registers what the control-plane grains need: their options (bound from <c>Fabric:HostLiveness</c>,
    /// <c>Fabric:MacMobility</c>, <c>Fabric:Observers</c> and validated at start, so a bad value stops
    /// the silo with <see cref="OptionsValidationException"/> naming it), the host liveness sweep, and
    /// <see cref="TimeProvider.System"/> unless a <see cref="TimeProvider"/> is already registered.
    /// The grain classes themselves are found by Orleans from this assembly.
    /// </summary>
    /// <remarks>
    /// Grain state uses the grain storage provider named <c>"fabric"</c>, which the host must register
    /// (memory storage in embedded mode, Table storage in cluster mode).
    /// </remarks>
    /// <param name="builder">The silo builder.</param>
    /// <returns><paramref name="builder"/>, for chaining.</returns>
    public static ISiloBuilder AddFabricGrains(this ISiloBuilder builder)
    {
        builder.Services.AddFabricGrains();
        return builder;
    }

    internal static IServiceCollection AddFabricGrains(this IServiceCollection services)
    {
        services.TryAddSingleton(TimeProvider.System);
        services.AddOptions<HostLivenessOptions>().BindConfiguration(HostLivenessOptions.SectionName).ValidateOnStart();
        services.AddOptions<MacMobilityOptions>().BindConfiguration(MacMobilityOptions.SectionName).ValidateOnStart();
        services.AddOptions<ObserverOptions>().BindConfiguration(ObserverOptions.SectionName).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<HostLivenessOptions>, HostLivenessOptionsValidator>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<MacMobilityOptions>, MacMobilityOptionsValidator>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<ObserverOptions>, ObserverOptionsValidator>());
        services.AddHostedService<HostLivenessSweep>();
        services.AddMetrics();
        services.TryAddSingleton<Diagnostics.GrainMetrics>();
        return services;
    }
}
