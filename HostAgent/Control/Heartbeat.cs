using Fabric.Grains;
using Fabric.HostAgent.Configuration;
using Fabric.HostAgent.Forwarding;
using Microsoft.Extensions.Options;

namespace Fabric.HostAgent.Control;

/// <summary>
/// The host's registration and liveness: registers the host with its VTEP and ports (called by the
/// sync loop at each full sync), then every <see cref="AgentOptions.HeartbeatInterval"/>, and at once
/// when the sync loop asks (<see cref="ControlSignals.RequestHeartbeat"/>: tables of a new generation
/// were published), tells the host grain it is alive and which configuration generation its data
/// plane forwards on. From the
/// answer it signals (<see cref="ControlSignals"/>): declared dead meanwhile → resync (its MACs were
/// withdrawn); cluster membership changed → renew subscriptions; no answer → failure.
/// </summary>
/// <remarks>
/// Heartbeats run on a loop of their own and go on while the sync loop retries: a call stuck on a
/// silo that just died must not keep the host from being heard, or it would be declared dead and
/// withdrawn while it still forwards (docs/architecture.md, "Rules").
/// </remarks>
internal sealed class Heartbeat(
    IClusterClient client,
    IOptions<AgentOptions> options,
    DataPlane dataPlane,
    ControlSignals signals,
    TimeProvider time) : BackgroundService
{
    private readonly AgentOptions _options = options.Value;
    private int _registered;
    private long _membershipVersion = -1;

    /// <summary>True once the host has registered; heartbeats start then and go on through outages.</summary>
    public bool Registered => Volatile.Read(ref _registered) == 1;

    /// <summary>The cluster membership version last seen in a heartbeat answer (-1: none yet).</summary>
    public long MembershipVersion => Interlocked.Read(ref _membershipVersion);

    /// <summary>
    /// Registers (or re-registers) the host, bounded by <see cref="AgentOptions.CallTimeout"/>; the
    /// first registration counts as the first heartbeat. Throws what the host grain throws
    /// (<see cref="FabricNotFoundException"/> for an unknown switch or port group) or a timeout.
    /// </summary>
    public async Task<HostInfo> RegisterAsync(HostRegistration registration)
    {
        var info = await client.GetGrain<IHostGrain>(_options.HostId).RegisterAsync(registration).Bounded(_options, time);
        Volatile.Write(ref _registered, 1);
        return info;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                // Every interval, or at once when the sync loop applied a new configuration generation.
                await signals.WaitHeartbeatAsync(_options.HeartbeatInterval, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            if (!Registered)
            {
                continue;
            }

            HeartbeatAck ack;
            try
            {
                ack = await client.GetGrain<IHostGrain>(_options.HostId).HeartbeatAsync(dataPlane.Snapshot.Generation).Bounded(_options, time);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                // The sync loop reports the outage once and re-synchronizes.
                signals.ReportFailure(ex);
                continue;
            }

            long known = Interlocked.Exchange(ref _membershipVersion, ack.MembershipVersion);
            signals.ObservePortRequestsVersion(ack.PortRequestsVersion);
            if (ack.Revived)
            {
                // Declared dead meanwhile: our MACs were withdrawn; start over and publish them again.
                signals.RequestResync("the host was declared dead and is back");
                continue;
            }

            if (known >= 0 && known != ack.MembershipVersion)
            {
                signals.RequestRefresh();
            }
        }
    }
}
