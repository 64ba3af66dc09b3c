using System.Net;
using Fabric.Addressing;
using Fabric.Grains;
using Fabric.HostAgent.Configuration;
using Fabric.HostAgent.Diagnostics;
using Fabric.HostAgent.Forwarding;
using Fabric.HostAgent.Wire;
using Microsoft.Extensions.Options;

namespace Fabric.HostAgent.Control;

/// <summary>
/// The one route from what the data plane learns to the MAC tables: every
/// <see cref="AgentOptions.LearnPublishInterval"/> it takes the keys the local table queued (a MAC
/// new, moved to another local port, or claiming a new IPv4 address) and those the external table
/// queued (a MAC seen behind an external VTEP, RFC 7348 §4.1, new or learned again to keep it from
/// ageing), and for each VNI sends one <see cref="IMacTableGrain.LearnAsync"/> batch holding each MAC
/// with its location and, per claimed address, its IP binding (an EVPN MAC/IP route, RFC 7432 §7.2). What is not yet accepted stays
/// pending and goes with the next batch, so an outage loses nothing learned.
/// </summary>
/// <remarks>
/// The entry is read when the batch is built, not when the key was queued: a MAC that moved or was
/// forgotten meanwhile is published as it stands now, or not at all. Each MAC accepted is timed from
/// its earliest pending learn (<see cref="ControlPlaneMetrics.LearnPublishDuration"/>).
/// </remarks>
internal sealed partial class LearnPublisher(
    IClusterClient client,
    IOptions<AgentOptions> options,
    LocalMacTable macs,
    ExternalMacTable external,
    LocalPorts.PortRegistry ports,
    TimeProvider time,
    ILogger<LearnPublisher> logger,
    ControlPlaneMetrics? metrics = null) : BackgroundService
{
    /// <summary>Most requests in one call; a VNI with more pending is sent in several calls.</summary>
    public const int MaxBatch = 1024;

    private readonly AgentOptions _options = options.Value;
    private readonly IPAddress _vtep = IPAddress.Parse(options.Value.VtepAddress);
    // VNI → MAC → when its earliest pending learn was queued (Environment.TickCount64 ms; 0: requeued).
    private readonly Dictionary<uint, Dictionary<ulong, long>> _pending = [];
    private readonly Dictionary<uint, Dictionary<ulong, long>> _pendingExternal = [];

    /// <summary>How many MACs wait to be published (after the last round).</summary>
    public int Pending => _pending.Values.Sum(s => s.Count) + _pendingExternal.Values.Sum(s => s.Count);

    /// <summary>How many learn calls the MAC tables accepted since start.</summary>
    public long Calls { get; private set; }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(_options.LearnPublishInterval, time, stoppingToken);
                await PublishAsync();
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception)
            {
                // Unreachable or timed out: everything stays pending for the next round. The sync
                // loop reports the outage (once), not this one (every 50 ms).
            }
        }
    }

    /// <summary>
    /// One round: drains the learn queue and publishes every pending VNI, one call per VNI (per
    /// <see cref="MaxBatch"/> requests). Throws on the first call that fails, leaving it and the
    /// VNIs after it pending.
    /// </summary>
    public async Task PublishAsync()
    {
        while (macs.TryTakeLearned(out var key, out long queuedAt))
        {
            Add(_pending, key, queuedAt);
        }

        while (external.TryTakeLearned(out var key, out long queuedAt))
        {
            Add(_pendingExternal, key, queuedAt);
        }

        var hostLocal = ports.Switch?.PortGroups.Where(g => g.IsHostLocal).Select(g => g.Vni.Value).ToHashSet() ?? [];
        foreach (uint vni in _pending.Keys.Concat(_pendingExternal.Keys).Distinct().ToArray())
        {
            if (hostLocal.Contains(vni))
            {
                // A host-local network (hostOnly, nat, bridged): its MACs are nobody else's business.
                _pending.Remove(vni);
                _pendingExternal.Remove(vni);
                continue;
            }

            var batch = new List<MacLearnRequest>();
            if (_pending.TryGetValue(vni, out var local))
            {
                Build(vni, local, batch);
            }

            if (_pendingExternal.TryGetValue(vni, out var behindExternal))
            {
                BuildExternal(vni, behindExternal, batch);
            }

            try
            {
                for (int start = 0; start < batch.Count; start += MaxBatch)
                {
                    var chunk = batch.GetRange(start, Math.Min(MaxBatch, batch.Count - start));
                    await client.GetGrain<IMacTableGrain>(vni).LearnAsync(chunk).Bounded(_options, time);
                    Calls++;
                    RecordAccepted(chunk, local, behindExternal);
                }
            }
            catch (FabricValidationException ex)
            {
                // Never acceptable as it stands (say, an interface name the fabric's names refuse):
                // retrying would fail forever and hold back every later MAC of the VNI.
                Log.Rejected(logger, vni, batch.Count, ex.Field, ex.Message);
            }

            _pending.Remove(vni);
            _pendingExternal.Remove(vni);
        }
    }

    private static void Add(Dictionary<uint, Dictionary<ulong, long>> pending, MacKey key, long queuedAt)
    {
        if (!pending.TryGetValue(key.Vni, out var set))
        {
            pending[key.Vni] = set = [];
        }

        // The earliest learn still pending is the one the latency is about.
        set[key.Mac] = set.TryGetValue(key.Mac, out long earlier) && earlier != 0 && (queuedAt == 0 || earlier < queuedAt) ? earlier : queuedAt;
    }

    /// <summary>Times every MAC of an accepted call once, from its earliest pending learn; requeued ones (0) are not learns and are not timed.</summary>
    private void RecordAccepted(List<MacLearnRequest> chunk, Dictionary<ulong, long>? local, Dictionary<ulong, long>? behindExternal)
    {
        if (metrics is null)
        {
            return;
        }

        long now = Environment.TickCount64;
        foreach (var request in chunk)
        {
            // Timed once: a MAC with several claimed addresses is several requests, and a round that
            // fails after this call sends it again; 0 marks it timed.
            ulong mac = request.Mac.Value;
            var pending = local is not null && local.ContainsKey(mac) ? local : behindExternal;
            if (pending is not null && pending.TryGetValue(mac, out long queuedAt) && queuedAt != 0)
            {
                metrics.LearnPublishDuration.Record(Math.Max(0, now - queuedAt) / 1000.0);
                pending[mac] = 0;
            }
        }
    }

    private void Build(uint vni, Dictionary<ulong, long> pending, List<MacLearnRequest> requests)
    {
        foreach (ulong value in pending.Keys)
        {
            if (!macs.TryGet(vni, value, out var entry) || ports.NameOf(entry.Port) is not { } port)
            {
                continue; // forgotten meanwhile (aged, moved to another host, its port detached): nothing to say
            }

            var mac = new MacAddress(value);
            bool any = false;
            foreach (uint ip in entry.Claims)
            {
                requests.Add(new MacLearnRequest(mac, _options.HostId, _vtep, port, Ipv4Address.ToIPAddress(ip)));
                any = true;
            }

            if (!any)
            {
                requests.Add(new MacLearnRequest(mac, _options.HostId, _vtep, port));
            }
        }
    }

    /// <summary>MACs behind external VTEPs, published under the VTEP's own host id (<see cref="ExternalVteps"/>).</summary>
    private void BuildExternal(uint vni, Dictionary<ulong, long> pending, List<MacLearnRequest> requests)
    {
        foreach (ulong value in pending.Keys)
        {
            if (external.TryGet(vni, value, out var entry))
            {
                var vtep = Ipv4Address.ToIPAddress(entry.Vtep);
                requests.Add(new MacLearnRequest(new MacAddress(value), ExternalVteps.HostId(vtep), vtep, ExternalVteps.Port));
            }
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = AgentEventIds.LearnRejected, Level = LogLevel.Warning, Message = "VNI {Vni}: the MAC table refused {Count} learned MAC(s) ({Field}: {Reason}); they are not retried")]
        public static partial void Rejected(ILogger logger, uint vni, int count, string field, string reason);
    }
}
