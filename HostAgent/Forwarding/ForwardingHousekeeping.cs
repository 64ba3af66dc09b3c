using Fabric.HostAgent.Configuration;
using Fabric.HostAgent.Diagnostics;
using Microsoft.Extensions.Options;

namespace Fabric.HostAgent.Forwarding;

/// <summary>
/// The data plane's own upkeep, run whether or not the cluster is reachable: local MACs and MACs
/// learned behind external VTEPs not seen for <see cref="AgentOptions.MacAgingTime"/> are forgotten
/// (IEEE 802.1Q ageing); external MACs still in use are queued for publishing again every third of
/// it, so the MAC tables (which age them, having no host to withdraw them) keep them; and the
/// forwarding tables are saved to <see cref="AgentOptions.ForwardingCacheFile"/> for a warm start. It must not
/// wait on the cluster: an outage is exactly when a restart needs fresh saved tables.
/// </summary>
/// <remarks>
/// The tables are saved at most once per <see cref="SaveInterval"/> after they change, and at least
/// once per third of <see cref="AgentOptions.ForwardingCacheMaxAge"/> while they do not, so the file
/// stays young enough to be used: the tables a restarted agent picks up are the ones it was
/// forwarding on until it stopped, however long ago the cluster last changed them.
/// </remarks>
internal sealed partial class ForwardingHousekeeping(
    IOptions<AgentOptions> options,
    DataPlane dataPlane,
    TimeProvider time,
    ILogger<ForwardingHousekeeping> logger) : BackgroundService
{
    /// <summary>The shortest time between two saves of the forwarding tables.</summary>
    public static readonly TimeSpan SaveInterval = TimeSpan.FromSeconds(1);

    private readonly AgentOptions _options = options.Value;
    private long _savedPublications = -1;
    private DateTimeOffset _lastSave = DateTimeOffset.MinValue;
    private DateTimeOffset _nextAging;
    private DateTimeOffset _nextExternalRefresh;
    private long _lastExternalRefresh = Environment.TickCount64;
    private bool _saveFailureReported;

    /// <summary>How often ageing runs: a tenth of the ageing time, at least once a second.</summary>
    public TimeSpan AgingInterval => TimeSpan.FromSeconds(Math.Max(1, _options.MacAgingTime.TotalSeconds / 10));

    /// <summary>Saved tables older than this are saved again even if unchanged.</summary>
    public TimeSpan RefreshInterval => _options.ForwardingCacheMaxAge / 3;

    /// <summary>How many local MACs ageing has forgotten since start.</summary>
    public long Aged { get; private set; }

    /// <summary>How many times external MACs still in use were queued for publishing again.</summary>
    public long ExternalRefreshes { get; private set; }

    /// <summary>How often external MACs still in use are queued again: a third of the ageing time.</summary>
    public TimeSpan ExternalRefreshInterval => _options.MacAgingTime / 3;

    /// <summary>How many times the forwarding tables were saved since start.</summary>
    public long Saves { get; private set; }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        _nextAging = time.GetUtcNow() + AgingInterval;
        _nextExternalRefresh = time.GetUtcNow() + ExternalRefreshInterval;
        using var timer = new PeriodicTimer(SaveInterval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                RunOnce();
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>One round: ages local MACs when due, saves the tables when they changed or grew old.</summary>
    public void RunOnce()
    {
        var now = time.GetUtcNow();
        if (now >= _nextAging)
        {
            _nextAging = now + AgingInterval;
            long cutoff = Environment.TickCount64 - (long)_options.MacAgingTime.TotalMilliseconds;
            int aged = dataPlane.Macs.Age(cutoff) + dataPlane.External.Age(cutoff);
            if (aged > 0)
            {
                Aged += aged;
                Log.Aged(logger, aged);
            }
        }

        if (now >= _nextExternalRefresh)
        {
            _nextExternalRefresh = now + ExternalRefreshInterval;
            long tick = Environment.TickCount64;
            dataPlane.External.RequeueSeenSince(_lastExternalRefresh);
            _lastExternalRefresh = tick;
            ExternalRefreshes++;
        }

        SaveIfDue(now);
    }

    private void SaveIfDue(DateTimeOffset now)
    {
        if (_options.ForwardingCacheFile is not { Length: > 0 } path)
        {
            return;
        }

        long publications = dataPlane.Publications;
        var snapshot = dataPlane.Snapshot;
        bool changed = publications != _savedPublications;

        // Nothing to save before there are tables: a cold start with no answer from the cluster yet.
        // Warm-started tables are saved again like any other, since they are what is forwarded on.
        if ((publications == 0 && snapshot.Segments.Count == 0) || (!changed && now - _lastSave < RefreshInterval))
        {
            return;
        }

        try
        {
            ForwardingCache.Save(path, _options.HostId, _options.Switch, snapshot, now);
            _savedPublications = publications;
            _lastSave = now;
            Saves++;
            _saveFailureReported = false;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            if (!_saveFailureReported)
            {
                Log.CacheFailed(logger, path, ex.Message);
                _saveFailureReported = true;
            }
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = AgentEventIds.Aged, Level = LogLevel.Debug, Message = "Aged out {Count} local MAC(s)")]
        public static partial void Aged(ILogger logger, int count);

        [LoggerMessage(EventId = AgentEventIds.CacheSaveFailed, Level = LogLevel.Warning, Message = "Cannot save the forwarding tables to {Path}: {Reason} (a restart will wait for the cluster)")]
        public static partial void CacheFailed(ILogger logger, string path, string reason);
    }
}
