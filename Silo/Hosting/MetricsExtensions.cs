using Fabric.Grains.Hosting;
using System.Diagnostics.Metrics;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;

namespace Fabric.Silo.Hosting;

/// <summary>The silo's Prometheus endpoint: <c>GET /metrics</c> on its HTTP port (README, "Metrics").</summary>
public static class MetricsExtensions
{
    /// <summary>The path Prometheus scrapes.</summary>
    public const string MetricsPath = "/metrics";

    /// <summary>
    /// The most series one silo keeps per grain gauge (MAC tables or hosts it holds); beyond it
    /// OpenTelemetry folds the rest into one series labelled <c>otel_metric_overflow="true"</c>. Its
    /// default, 2,000, is too few for a silo holding many segments; the points are allocated up front
    /// (about 100 bytes each), so this is not unbounded.
    /// </summary>
    public const int GrainSeriesLimit = 10_000;

    /// <summary>
    /// Exports, in the Prometheus text format at <see cref="MetricsPath"/>, the grains' meter
    /// (<see cref="FabricGrainsExtensions.MeterName"/>: MAC table sizes, moves, frozen MACs and
    /// duplicate IPs per VNI, hosts alive and dead, the learn→push latency histogram) and ASP.NET
    /// Core's <c>Microsoft.AspNetCore.Hosting</c> meter (<c>http.server.request.duration</c>, the API's
    /// latency by route, method and status). OpenTelemetry derives the Prometheus names: dots become
    /// underscores, the unit is appended (<c>_seconds</c>), counters end in <c>_total</c>.
    /// </summary>
    /// <remarks>
    /// The endpoint is added in front of the application's own pipeline (a startup filter), so it
    /// answers without the API's problem mapping. Each silo reports only the grain activations it
    /// holds, so Prometheus sums over silos without counting a grain twice.
    /// </remarks>
    /// <param name="builder">The silo's web application builder.</param>
    /// <returns><paramref name="builder"/>, for chaining.</returns>
    public static WebApplicationBuilder AddFabricMetrics(this WebApplicationBuilder builder)
    {
        builder.Services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService("fabric-silo"))
            .WithMetrics(metrics => metrics
            .AddMeter(FabricGrainsExtensions.MeterName, "Microsoft.AspNetCore.Hosting")
            .AddView(instrument => instrument.Meter.Name == FabricGrainsExtensions.MeterName && instrument is not Histogram<double>
                ? new MetricStreamConfiguration { CardinalityLimit = GrainSeriesLimit }
                : null)
            .AddPrometheusExporter(o =>
            {
                // One scrape per Prometheus interval; an earlier answer must not hide a fresh value.
                o.ScrapeResponseCacheDurationMilliseconds = 0;
            }));
        builder.Services.AddTransient<IStartupFilter, MetricsStartupFilter>();
        return builder;
    }

    private sealed class MetricsStartupFilter : IStartupFilter
    {
        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            app.UseOpenTelemetryPrometheusScrapingEndpoint(MetricsPath);
            next(app);
        };
    }
}
