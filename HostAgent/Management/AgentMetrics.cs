using Fabric.HostAgent.Forwarding;
using Microsoft.AspNetCore.Builder;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;

namespace Fabric.HostAgent.Management;

/// <summary>
/// The agent's Prometheus export: meter <see cref="DataPlaneMetrics.MeterName"/> (the data plane's
/// counters per port, VNI and VTEP, <see cref="DataPlaneMetrics"/>; the control plane's state and
/// learn latency, <see cref="Control.ControlPlaneMetrics"/>) in the Prometheus text format at
/// <c>GET /metrics</c> on the management endpoint (<see cref="AgentEndpoint"/>). Names as Prometheus
/// shows them are in the README ("Metrics").
/// </summary>
internal static class AgentMetrics
{
    /// <summary>The path Prometheus scrapes on the management endpoint.</summary>
    public const string Path = "/metrics";

    /// <summary>
    /// The most series a drop counter keeps (ports or VNIs × reasons that occurred); beyond it
    /// OpenTelemetry folds the rest into one series labelled <c>otel_metric_overflow="true"</c>.
    /// OpenTelemetry's default, 2,000, holds every other instrument (at most <c>MaxPorts</c> ports).
    /// </summary>
    public const int DropSeriesLimit = 8_192;

    /// <summary>The instruments and the OpenTelemetry meter provider with its Prometheus exporter.</summary>
    public static IServiceCollection AddFabricAgentMetrics(this IServiceCollection services)
    {
        services.AddMetrics();
        services.AddSingleton<DataPlaneMetrics>();
        services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService("fabric-agent"))
            .WithMetrics(metrics => metrics
                .AddMeter(DataPlaneMetrics.MeterName)
                .AddView(instrument => instrument.Meter.Name == DataPlaneMetrics.MeterName && instrument.Name.Contains(".dropped_", StringComparison.Ordinal)
                    ? new MetricStreamConfiguration { CardinalityLimit = DropSeriesLimit }
                    : null)
                .AddPrometheusExporter(o =>
                {
                    // One collection per scrape: an earlier answer must not hide a fresh counter.
                    o.ScrapeResponseCacheDurationMilliseconds = 0;
                }));
        return services;
    }

    /// <summary>
    /// Serves <see cref="Path"/> on <paramref name="app"/> (the management endpoint's own small
    /// Kestrel app) from the agent host's <paramref name="provider"/>.
    /// </summary>
    public static IApplicationBuilder UseFabricMetrics(this IApplicationBuilder app, MeterProvider provider)
        => app.UseOpenTelemetryPrometheusScrapingEndpoint(provider, predicate: null, path: Path, configureBranchedPipeline: null, optionsName: null);
}
