using Fabric.Grains.Diagnostics;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Fabric.Grains.Hosting;

/// <summary>
/// Runs on every silo: once per <see cref="HostLivenessOptions.DeadAfter"/>, touches every
/// registered host grain. A host grain that died with its silo is activated again this way, and a
/// new activation declares its host dead if the agent stays silent (an agent that died together
/// with the silo holding its grain would otherwise never be withdrawn). Queries only; idempotent.
/// </summary>
internal sealed partial class HostLivenessSweep(IGrainFactory grains, IOptions<HostLivenessOptions> options, TimeProvider time, ILogger<HostLivenessSweep> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var period = options.Value.DeadAfter;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(period, time, stoppingToken);
                var hosts = await grains.GetGrain<IFabricDirectoryGrain>(IFabricDirectoryGrain.Key).ListHostsAsync();
                await Task.WhenAll(hosts.Select(id => grains.GetGrain<IHostGrain>(id).GetAsync()));
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex)
            {
                // The silo may still be joining, or the cluster be partitioned: try again next period.
                Log.SweepFailed(logger, ex.Message);
            }
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = GrainsEventIds.HostLivenessSweepFailed, Level = LogLevel.Debug, Message = "Host liveness sweep failed: {Reason}")]
        public static partial void SweepFailed(ILogger logger, string reason);
    }
}
