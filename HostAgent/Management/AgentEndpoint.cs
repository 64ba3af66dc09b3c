using System.Text.Json;
using Fabric.HostAgent.Configuration;
using Fabric.HostAgent.Diagnostics;
using Fabric.HostAgent.Forwarding;
using Fabric.HostAgent.Status;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;

namespace Fabric.HostAgent.Management;

/// <summary>
/// The agent's management endpoint: HTTP on <see cref="AgentOptions.ManagementUrl"/> (TCP, unlike the
/// local port API's unix socket), for the silos (which relay it to operators) and for Prometheus.
/// Read-only towards the data plane: it changes no table and attaches nothing. Routes:
/// <list type="bullet">
/// <item><c>GET /v1/status</c>: the <see cref="AgentStatus"/> (counters per port, VNI and VTEP; flood lists; remote MACs; bindings), as the status file has it.</item>
/// </list>
/// A listen failure (address in use) is logged (event 3502) and the agent goes on without it:
/// forwarding never depends on the endpoint.
/// </summary>
internal sealed partial class AgentEndpoint(
    IOptions<AgentOptions> options,
    DataPlane dataPlane,
    ManagementAddress address,
    TimeProvider time,
    ILogger<AgentEndpoint> logger) : IHostedService, IAsyncDisposable
{
    /// <summary>JSON as the status file writes it (web defaults: camelCase).</summary>
    internal static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    private readonly AgentOptions _options = options.Value;
    private WebApplication? _app;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (_options.ManagementUrl is not { Length: > 0 } url)
        {
            return;
        }

        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls(url);
        var app = builder.Build();
        Map(app);
        try
        {
            await app.StartAsync(cancellationToken);
        }
        catch (IOException ex)
        {
            // Kestrel reports an address in use or not assignable as an IOException.
            Log.Failed(logger, url, ex.Message);
            await app.DisposeAsync();
            return;
        }

        _app = app;
        address.Set(_options.AdvertisedManagementUrl());
        Log.Listening(logger, url, address.Registered ?? url);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_app is not null)
        {
            address.Set(null);
            await _app.StopAsync(cancellationToken);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.DisposeAsync();
        }
    }

    private void Map(WebApplication app)
    {
        var v1 = app.MapGroup("/v1");
        v1.MapGet("/status", () => Results.Json(AgentStatus.Of(_options.HostId, dataPlane, time.GetUtcNow()), Json));
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = AgentEventIds.ManagementListening, Level = LogLevel.Information, Message = "Management endpoint listening on {Url} (registered as {Advertised})")]
        public static partial void Listening(ILogger logger, string url, string advertised);

        [LoggerMessage(EventId = AgentEventIds.ManagementFailed, Level = LogLevel.Error, Message = "Management endpoint cannot listen on {Url}: {Reason}; the agent forwards without it (no status, trace, mirror or metrics)")]
        public static partial void Failed(ILogger logger, string url, string reason);
    }
}
