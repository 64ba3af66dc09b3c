using System.Diagnostics.Metrics;

namespace Fabric.HostAgent.Forwarding;

/// <summary>
/// Publishes the data plane's counters as System.Diagnostics.Metrics instruments (meter
/// "Fabric.HostAgent"), read on collection, so the hot path only increments plain fields.
/// </summary>
internal sealed class DataPlaneMetrics : IDisposable
{
    public const string MeterName = "Fabric.HostAgent";

    private readonly Meter _meter;

    public DataPlaneMetrics(IMeterFactory factory, DataPlane dp)
    {
        _meter = factory.Create(MeterName);
        _meter.CreateObservableCounter("fabric.frames.received", () => Measure(dp, c => c.Received), "{frame}", "Frames and datagrams received, per port/VTEP");
        _meter.CreateObservableCounter("fabric.frames.delivered", () => Measure(dp, c => c.Delivered), "{frame}", "Frames delivered to local ports");
        _meter.CreateObservableCounter("fabric.frames.encapsulated", () => Measure(dp, c => c.Encapsulated), "{frame}", "Frames sent to remote VTEPs");
        _meter.CreateObservableCounter("fabric.frames.flooded", () => Measure(dp, c => c.Flooded), "{frame}", "Broadcast, multicast and unknown unicast frames replicated");
        _meter.CreateObservableCounter("fabric.frames.dropped", () => Drops(dp), "{frame}", "Frames dropped, by reason");
    }

    private static IEnumerable<Measurement<long>> Measure(DataPlane dp, Func<TrafficCounters, long> read)
    {
        foreach (var port in dp.Snapshot.AttachedPorts)
        {
            yield return new Measurement<long>(read(dp.Counters.Ports[port.Index]), new KeyValuePair<string, object?>("port", port.Name));
        }

        yield return new Measurement<long>(read(dp.Counters.Vtep), new KeyValuePair<string, object?>("port", "vtep"));
    }

    private static IEnumerable<Measurement<long>> Drops(DataPlane dp)
    {
        var total = dp.Counters.Total;
        foreach (var reason in Enum.GetValues<DataPlaneDrop>())
        {
            yield return new Measurement<long>(total.DropsOf(reason), new KeyValuePair<string, object?>("reason", reason.ToString()));
        }
    }

    public void Dispose() => _meter.Dispose();
}
