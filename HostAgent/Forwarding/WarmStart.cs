using Fabric.HostAgent.Configuration;
using Fabric.HostAgent.Diagnostics;

namespace Fabric.HostAgent.Forwarding;

/// <summary>
/// The tables a starting agent forwards on before the cluster answers: those saved in
/// <see cref="AgentOptions.ForwardingCacheFile"/> before a restart, if recent and saved for this
/// host, switch and port list (OVS keeps its datapath flows across a restart for the same reason);
/// otherwise empty tables, and forwarding starts with the first snapshot from the cluster.
/// </summary>
internal static partial class WarmStart
{
    /// <summary>The first tables of the data plane for <paramref name="options"/>; logs which start it is (warm or cold) and why.</summary>
    public static ForwardingSnapshot InitialTables(AgentOptions options, IReadOnlyList<LocalPorts.LocalPort> ports, DataPlaneCounters counters, TimeProvider time, ILogger logger)
    {
        var table = PortForwarding.FreeTable(options.MaxPorts);
        foreach (var port in ports)
        {
            table[port.Slot] = new PortForwarding { Index = port.Slot, Name = port.Interface, Trunk = false };
        }

        var empty = ForwardingSnapshot.Empty(table);
        if (options.ForwardingCacheFile is not { Length: > 0 } path)
        {
            return empty;
        }

        var snapshot = ForwardingCache.Load(
            path,
            options.HostId,
            options.Switch,
            [.. ports.Select(p => (p.Slot, p.Interface))],
            options.MaxPorts,
            options.ForwardingCacheMaxAge,
            time.GetUtcNow(),
            counters,
            address => new RemoteVtep(address, options.VxlanPort),
            out string reason);
        if (snapshot is null)
        {
            Log.ColdStart(logger, path, reason);
            return empty;
        }

        Log.WarmStart(logger, path, reason, snapshot.Segments.Count, snapshot.Segments.Values.Sum(s => s.RemoteMacs.Count));
        return snapshot;
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = AgentEventIds.WarmStart, Level = LogLevel.Information, Message = "Warm start: forwarding on the tables in {Path} ({Reason}; {Segments} segment(s), {RemoteMacs} remote MAC(s)) until the cluster answers")]
        public static partial void WarmStart(ILogger logger, string path, string reason, int segments, int remoteMacs);

        [LoggerMessage(EventId = AgentEventIds.ColdStart, Level = LogLevel.Information, Message = "Cold start: not using {Path} ({Reason}); forwarding starts with the first snapshot from the cluster")]
        public static partial void ColdStart(ILogger logger, string path, string reason);
    }
}
