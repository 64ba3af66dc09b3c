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
/// <item><c>GET /metrics</c>: the agent's metrics in the Prometheus text format (<see cref="AgentMetrics"/>).</item>
/// <item><c>GET /v1/mirror?port=vm1&amp;direction=in|out|both&amp;count=N</c>: a local port mirror streamed as pcap (<see cref="Mirroring.LocalMirrors"/>) until the reader leaves, N frames were sent (0 or absent: no limit) or the port is detached; 400 naming a bad parameter, 404 for a port that is not attached, 503 when <see cref="Mirroring.LocalMirrors.MaxSessions"/> are active.</item>
/// <item><c>POST /v1/trace</c> (<see cref="TraceRequest"/>): a dry run of a frame through the pipeline (<see cref="DataPlane.Trace"/>) → <see cref="FrameTrace"/>; 400 naming a bad field, 404 for a port that is not attached.</item>
/// </list>
/// A listen failure (address in use) is logged (event 3502) and the agent goes on without it:
/// forwarding never depends on the endpoint.
/// </summary>
internal sealed partial class AgentEndpoint(
    IOptions<AgentOptions> options,
    DataPlane dataPlane,
    Mirroring.LocalMirrors mirrors,
    ManagementAddress address,
    TimeProvider time,
    ILogger<AgentEndpoint> logger,
    OpenTelemetry.Metrics.MeterProvider? meterProvider = null) : IHostedService, IAsyncDisposable
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

    private readonly SemaphoreSlim _traces = new(1, 1);

    private void Map(WebApplication app)
    {
        if (meterProvider is not null)
        {
            app.UseFabricMetrics(meterProvider);
        }

        var v1 = app.MapGroup("/v1");
        v1.MapGet("/status", () => Results.Json(AgentStatus.Of(_options.HostId, dataPlane, time.GetUtcNow()), Json));
        v1.MapPost("/trace", TraceAsync);
        v1.MapGet("/mirror", MirrorAsync);
    }

    private async Task MirrorAsync(HttpContext context, string? port, string? direction, string? count)
    {
        var ct = context.RequestAborted;
        var parsedDirection = direction?.ToLowerInvariant() switch
        {
            null or "both" => (Grains.MirrorDirection?)Grains.MirrorDirection.Both,
            "in" => Grains.MirrorDirection.In,
            "out" => Grains.MirrorDirection.Out,
            _ => null,
        };
        int limit = 0;
        IResult? refusal = port is not { Length: > 0 } ? Problem(400, "port", "port (the interface to mirror) is required.")
            : parsedDirection is null ? Problem(400, "direction", "direction is in (what the port sends), out (what it receives) or both.")
            : count is not null && !(int.TryParse(count, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out limit) && limit >= 0) ? Problem(400, "count", "count is a number of frames, 0 for no limit.")
            : null;
        var slot = dataPlane.Snapshot.AttachedPorts.FirstOrDefault(p => p.Name == port);
        refusal ??= slot is null ? Problem(404, "port", $"no port '{port}' is attached on host {_options.HostId}.") : null;
        var ring = refusal is null ? mirrors.Start(slot!.Index, port!, parsedDirection!.Value) : null;
        refusal ??= ring is null ? Problem(503, null, $"{Mirroring.LocalMirrors.MaxSessions} port mirrors are active on host {_options.HostId}; end one first.") : null;
        if (refusal is not null)
        {
            await refusal.ExecuteAsync(context);
            return;
        }

        try
        {
            context.Response.ContentType = "application/vnd.tcpdump.pcap";
            await mirrors.StreamAsync(ring!, slot!.Index, port!, context.Response.Body, limit, time, ct);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // The reader left: the normal end of a mirror.
        }
        catch (IOException)
        {
            // The connection broke mid-write: the reader left too.
        }
        finally
        {
            mirrors.Stop(ring!, port!);
        }
    }

    private async Task<IResult> TraceAsync(HttpRequest http, CancellationToken ct)
    {
        TraceRequest? request;
        try
        {
            request = await JsonSerializer.DeserializeAsync<TraceRequest>(http.Body, Json, ct);
        }
        catch (JsonException ex)
        {
            return Problem(400, ex.Path is { Length: > 2 } path ? path.TrimStart('$', '.') : "body", $"the body is not a trace request: {ex.Message.Split('\n')[0]}");
        }

        if (request?.Port is not { Length: > 0 } portName)
        {
            return Problem(400, "port", "port (the ingress interface) is required.");
        }

        var port = dataPlane.Snapshot.AttachedPorts.FirstOrDefault(p => p.Name == portName);
        if (port is null)
        {
            return Problem(404, "port", $"no port '{portName}' is attached on host {_options.HostId}.");
        }

        byte[] frame;
        try
        {
            frame = TraceFrameBuilder.Build(request);
        }
        catch (TraceRequestException ex)
        {
            return Problem(400, ex.Field, ex.Message);
        }

        // One at a time: a trace copies the local MAC table.
        await _traces.WaitAsync(ct);
        try
        {
            return Results.Json(dataPlane.Trace(port.Index, frame) with { Host = _options.HostId }, Json);
        }
        finally
        {
            _traces.Release();
        }
    }

    /// <summary>An RFC 7807 problem, as the silo's API answers, so the silo relays it as it is.</summary>
    private static IResult Problem(int status, string? field, string detail)
        => Results.Problem(statusCode: status, detail: detail, extensions: field is null ? null : new Dictionary<string, object?> { ["field"] = field });

    private static partial class Log
    {
        [LoggerMessage(EventId = AgentEventIds.ManagementListening, Level = LogLevel.Information, Message = "Management endpoint listening on {Url} (registered as {Advertised})")]
        public static partial void Listening(ILogger logger, string url, string advertised);

        [LoggerMessage(EventId = AgentEventIds.ManagementFailed, Level = LogLevel.Error, Message = "Management endpoint cannot listen on {Url}: {Reason}; the agent forwards without it (no status, trace, mirror or metrics)")]
        public static partial void Failed(ILogger logger, string url, string reason);
    }
}
