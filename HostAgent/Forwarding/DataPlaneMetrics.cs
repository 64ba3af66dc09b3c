using System.Diagnostics.Metrics;

namespace Fabric.HostAgent.Forwarding;

/// <summary>
/// Publishes the data plane's counters as System.Diagnostics.Metrics instruments (meter
/// "Fabric.HostAgent"), read on collection, so the hot path only increments plain fields.
/// </summary>
public sealed class DataPlaneMetrics : IDisposable
{
    public const string MeterName = "Fabric.HostAgent";

    private readonly Meter _meter;

    public DataPlaneMetrics(IMeterFactory factory, DataPlaneHost host)
    {
        _meter = factory.Create(MeterName);
        _meter.CreateObservableCounter("fabric.frames.received", () => Measure(host, c => c.Received), "{frame}", "Frames and datagrams received, per port/VTEP");
        _meter.CreateObservableCounter("fabric.frames.delivered", () => Measure(host, c => c.Delivered), "{frame}", "Frames delivered to local ports");
        _meter.CreateObservableCounter("fabric.frames.encapsulated", () => Measure(host, c => c.Encapsulated), "{frame}", "Frames sent to remote VTEPs");
        _meter.CreateObservableCounter("fabric.frames.flooded", () => Measure(host, c => c.Flooded), "{frame}", "Broadcast, multicast and unknown unicast frames replicated");
        _meter.CreateObservableCounter("fabric.frames.dropped", () => Drops(host), "{frame}", "Frames dropped, by reason");
    }

    private static IEnumerable<Measurement<long>> Measure(DataPlaneHost host, Func<TrafficCounters, long> read)
    {
        if (!host.Started.IsCompletedSuccessfully)
        {
            yield break;
        }

        var dp = host.DataPlane;
        var ports = dp.Snapshot.Ports;
        for (int i = 0; i < ports.Length; i++)
        {
            yield return new Measurement<long>(read(dp.Counters.Ports[i]), new KeyValuePair<string, object?>("port", ports[i].Name));
        }

        yield return new Measurement<long>(read(dp.Counters.Vtep), new KeyValuePair<string, object?>("port", "vtep"));
    }

    private static IEnumerable<Measurement<long>> Drops(DataPlaneHost host)
    {
        if (!host.Started.IsCompletedSuccessfully)
        {
            yield break;
        }

        var total = host.DataPlane.Counters.Total;
        foreach (var reason in Enum.GetValues<DataPlaneDrop>())
        {
            yield return new Measurement<long>(total.DropsOf(reason), new KeyValuePair<string, object?>("reason", reason.ToString()));
        }
    }

    public void Dispose() => _meter.Dispose();
}
