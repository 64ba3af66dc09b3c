using Fabric.Grains;
using Fabric.HostAgent.Configuration;
using Fabric.HostAgent.Diagnostics;
using Fabric.HostAgent.LocalPorts;
using Microsoft.Extensions.Options;

namespace Fabric.HostAgent.Control;

/// <summary>
/// Carries out the operator's port requests (management API, <c>PUT /api/hosts/{id}/ports/{interface}</c>):
/// when a heartbeat answer shows a new <see cref="HeartbeatAck.PortRequestsVersion"/>, it reads the
/// host grain's requests, attaches every requested interface through <see cref="PortAttacher"/>
/// (owner <see cref="RequestedPort.Owner"/>), detaches ports of that owner no longer requested, and
/// reports per request whether it is attached or why not. Requests that failed (an interface that
/// does not exist yet) are tried again every <see cref="RetryInterval"/>. Ports attached by others
/// (CNI) are never touched: a request for one of their interfaces is reported as a conflict.
/// </summary>
internal sealed partial class PortRequestLoop(
    IClusterClient client,
    IOptions<AgentOptions> options,
    PortAttacher attacher,
    PortRegistry registry,
    ControlSignals signals,
    TimeProvider time,
    ILogger<PortRequestLoop> logger) : BackgroundService
{
    /// <summary>How often failed requests are tried again.</summary>
    public static readonly TimeSpan RetryInterval = TimeSpan.FromSeconds(5);

    private readonly AgentOptions _options = options.Value;
    private long _applied = -1;
    private bool _pendingErrors;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            bool changed;
            try
            {
                changed = await signals.WaitPortRequestsAsync(RetryInterval, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            if (!signals.Connected || (!changed && !_pendingErrors && _applied >= 0))
            {
                continue;
            }

            try
            {
                await ReconcileAsync(stoppingToken);
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                // The cluster went away meanwhile: the next heartbeat or retry tries again.
                Log.Failed(logger, ClusterCalls.FirstLine(ex.Message));
                _pendingErrors = true;
            }
        }
    }

    private async Task ReconcileAsync(CancellationToken cancellationToken)
    {
        var host = client.GetGrain<IHostGrain>(_options.HostId);
        var requests = await host.GetPortRequestsAsync().Bounded(_options, time);
        var statuses = new List<PortRequestStatus>();
        foreach (var request in requests.Requests)
        {
            // A requested port whose request changed (another port group, MAC or addresses) is attached anew.
            if (registry.Find(request.Interface) is { Owner: RequestedPort.Owner } current
                && (current.PortGroup != request.PortGroup || current.Mac != Normalize(request.Mac) || !current.Ipv4.SequenceEqual(request.Ipv4 ?? [])))
            {
                await attacher.DetachAsync(request.Interface, cancellationToken);
            }

            try
            {
                await attacher.AttachAsync(new PortRequest(request.Interface, request.PortGroup, request.Mac, request.Ipv4, RequestedPort.Owner), cancellationToken);
                statuses.Add(new PortRequestStatus(request.Interface, null));
            }
            catch (PortApiException ex)
            {
                statuses.Add(new PortRequestStatus(request.Interface, ex.Message));
            }
        }

        foreach (var port in registry.Ports.Where(p => p.Owner == RequestedPort.Owner && !requests.Requests.Any(r => r.Interface == p.Interface)))
        {
            await attacher.DetachAsync(port.Interface, cancellationToken);
        }

        await host.ReportPortRequestsAsync(requests.Version, statuses).Bounded(_options, time);
        _pendingErrors = statuses.Any(s => s.Error is not null);
        if (requests.Version != _applied || _pendingErrors)
        {
            Log.Reconciled(logger, requests.Version, statuses.Count(s => s.Error is null), statuses.Count(s => s.Error is not null));
        }

        _applied = requests.Version;
    }

    private static string? Normalize(string? mac) => mac is null ? null : Addressing.MacAddress.Parse(mac).ToString();

    private static partial class Log
    {
        [LoggerMessage(EventId = AgentEventIds.PortRequestsApplied, Level = LogLevel.Information, Message = "Operator port requests (version {Version}) applied: {Attached} attached, {Failed} not attached (the host's port requests in the API say why)")]
        public static partial void Reconciled(ILogger logger, long version, int attached, int failed);

        [LoggerMessage(EventId = AgentEventIds.PortRequestsFailed, Level = LogLevel.Warning, Message = "Operator port requests could not be read or reported ({Reason}); trying again")]
        public static partial void Failed(ILogger logger, string reason);
    }
}
