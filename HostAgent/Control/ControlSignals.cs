namespace Fabric.HostAgent.Control;

/// <summary>
/// How the control services tell the replica's sync loop what they saw, without calling each
/// other: the heartbeat reports a failure, a revival or a membership change; a delta with a gap
/// asks for a snapshot; a pushed hint says the switch changed. Every signal wakes the loop at once.
/// The other way, the sync loop asks the heartbeat to report a newly applied generation now. Thread-safe.
/// </summary>
internal sealed class ControlSignals
{
    private readonly SemaphoreSlim _wake = new(0);
    private string? _resyncReason;
    private Exception? _failure;
    private int _refresh;
    private int _portSync;
    private long _portRequestsVersion = -1;
    private readonly SemaphoreSlim _portRequests = new(0);
    private readonly SemaphoreSlim _heartbeatNow = new(0);
    private long _switchHint = -1;
    private int _connected;

    /// <summary>True while the replica is filled from the cluster and current (between a full sync and an outage).</summary>
    public bool Connected
    {
        get => Volatile.Read(ref _connected) == 1;
        set => Volatile.Write(ref _connected, value ? 1 : 0);
    }

    /// <summary>The session must start over (declared dead meanwhile, configuration changed). Ignored while not connected: the next full sync does it anyway.</summary>
    public void RequestResync(string reason)
    {
        if (Connected)
        {
            Volatile.Write(ref _resyncReason, reason);
            _wake.Release();
        }
    }

    /// <summary>The cluster stopped answering. Ignored while not connected (the sync loop already retries).</summary>
    public void ReportFailure(Exception failure)
    {
        if (Connected)
        {
            Volatile.Write(ref _failure, failure);
            _wake.Release();
        }
    }

    /// <summary>Subscriptions must be renewed now: a silo joined or died, so grains may be new activations without our observers.</summary>
    public void RequestRefresh()
    {
        Interlocked.Exchange(ref _refresh, 1);
        _wake.Release();
    }

    /// <summary>Ports were attached or detached: the host must register its new port list. Kept while not connected (the next full sync registers it, and a later port sync costs one idempotent registration).</summary>
    public void RequestPortSync()
    {
        Interlocked.Exchange(ref _portSync, 1);
        _wake.Release();
    }

    /// <summary>Takes the pending port sync request.</summary>
    public bool TakePortSync() => Interlocked.Exchange(ref _portSync, 0) == 1;

    /// <summary>A heartbeat answer's <see cref="HeartbeatAck.PortRequestsVersion"/>: a new one wakes the port request loop.</summary>
    public void ObservePortRequestsVersion(long version)
    {
        if (Interlocked.Exchange(ref _portRequestsVersion, version) != version)
        {
            _portRequests.Release();
        }
    }

    /// <summary>Waits until the operator's port requests changed or <paramref name="timeout"/>; true when they changed.</summary>
    public Task<bool> WaitPortRequestsAsync(TimeSpan timeout, CancellationToken cancellationToken) => _portRequests.WaitAsync(timeout, cancellationToken);

    /// <summary>
    /// The switch pushed a hint that its configuration is now at <paramref name="version"/>: kept (the
    /// highest seen) and the sync loop woken, which starts over when it is newer than its tables.
    /// </summary>
    public void HintSwitchVersion(long version)
    {
        long seen = Interlocked.Read(ref _switchHint);
        while (version > seen)
        {
            long was = Interlocked.CompareExchange(ref _switchHint, version, seen);
            if (was == seen)
            {
                _wake.Release();
                return;
            }

            seen = was;
        }
    }

    /// <summary>Takes the highest hinted switch version (-1: none since the last take).</summary>
    public long TakeSwitchHint() => Interlocked.Exchange(ref _switchHint, -1);

    /// <summary>
    /// The data plane now forwards on tables of a new configuration generation: the heartbeat should
    /// report it now rather than at its next interval, so the API's convergence barrier answers at once.
    /// </summary>
    public void RequestHeartbeat()
    {
        if (_heartbeatNow.CurrentCount == 0)
        {
            _heartbeatNow.Release();
        }
    }

    /// <summary>Waits until a heartbeat is asked for or <paramref name="timeout"/>.</summary>
    public Task WaitHeartbeatAsync(TimeSpan timeout, CancellationToken cancellationToken) => _heartbeatNow.WaitAsync(timeout, cancellationToken);

    /// <summary>Wakes the loop (a delta marked a VNI stale).</summary>
    public void Wake() => _wake.Release();

    /// <summary>Waits until a signal or <paramref name="timeout"/>.</summary>
    public Task WaitAsync(TimeSpan timeout, CancellationToken cancellationToken) => _wake.WaitAsync(timeout, cancellationToken);

    /// <summary>Takes the pending resync reason, if any.</summary>
    public string? TakeResync() => Interlocked.Exchange(ref _resyncReason, null);

    /// <summary>Takes the pending failure, if any.</summary>
    public Exception? TakeFailure() => Interlocked.Exchange(ref _failure, null);

    /// <summary>Takes the pending refresh request.</summary>
    public bool TakeRefresh() => Interlocked.Exchange(ref _refresh, 0) == 1;

    /// <summary>Forgets resync and failure signals from before a new session.</summary>
    public void BeginSession()
    {
        TakeResync();
        TakeFailure();
    }
}
