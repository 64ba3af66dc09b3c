using System.Diagnostics.Metrics;
using Fabric.HostAgent.Forwarding;

namespace Fabric.HostAgent.Control;

/// <summary>
/// The agent's control plane on its meter (<see cref="DataPlaneMetrics.MeterName"/>): whether it is
/// connected to the cluster, the configuration generation its tables were built from, and how long
/// what the data plane learns takes to be accepted by the MAC tables.
/// </summary>
internal sealed class ControlPlaneMetrics
{
    public ControlPlaneMetrics(IMeterFactory factory, ControlSignals signals, DataPlane dataPlane)
    {
        // The same meter as the data plane's counters (the factory hands out one per name and owns it).
        var meter = factory.Create(DataPlaneMetrics.MeterName);
        meter.CreateObservableGauge("fabric.agent.connected", () => signals.Connected ? 1 : 0, unit: null, "1 while the agent's replica is filled from the cluster and current, 0 during an outage (it forwards on its tables meanwhile)");
        meter.CreateObservableGauge("fabric.agent.applied_generation", () => dataPlane.Snapshot.Generation, unit: null, "The switch configuration generation the forwarding tables were built from (what the heartbeat reports as applied)");
        LearnPublishDuration = meter.CreateHistogram(
            "fabric.agent.learn_publish.duration",
            "s",
            "Per MAC (or new IPv4 claim): from the data plane learning it until the VNI's MAC table grain accepted the learn call carrying it, which the grain answers after pushing the delta to its subscribers; includes the publish interval's wait and any outage",
            tags: null,
            new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30] });
    }

    /// <summary>Seconds from the data plane's learn to the MAC table's acceptance (see the instrument's description).</summary>
    public Histogram<double> LearnPublishDuration { get; }
}
