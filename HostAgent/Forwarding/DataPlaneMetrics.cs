using System.Diagnostics.Metrics;
using System.Globalization;
using Fabric.HostAgent.Wire;

namespace Fabric.HostAgent.Forwarding;

/// <summary>
/// Publishes the data plane's counters as System.Diagnostics.Metrics instruments (meter
/// "Fabric.HostAgent"), read on collection, so the hot path only increments plain fields
/// (<see cref="TrafficCounters"/>). Per local port (label <c>port</c>, the interface name), per VNI
/// (label <c>vni</c>) and for the host's VTEP socket (label <c>vtep</c>, its address): frames and
/// bytes in each direction, and drops by reason (label <c>reason</c>, a <see cref="DataPlaneDrop"/>
/// name; a reason appears once it has counted a drop). Names as Prometheus shows them are in the
/// README ("Metrics").
/// </summary>
/// <remarks>
/// A port's counters start from zero when a port is attached to its slot, and a VNI's when the host
/// carries it again: Prometheus takes a counter that goes back as a reset.
/// </remarks>
internal sealed class DataPlaneMetrics
{
    public const string MeterName = "Fabric.HostAgent";

    private static readonly DataPlaneDrop[] Reasons = Enum.GetValues<DataPlaneDrop>();
    private static readonly string[] ReasonNames = [.. Reasons.Select(r => r.ToString())];

    public DataPlaneMetrics(IMeterFactory factory, DataPlane dp)
    {
        // The factory owns the meter (shared with ControlPlaneMetrics) and disposes it with the host.
        var meter = factory.Create(MeterName);
        var vtep = new KeyValuePair<string, object?>("vtep", Ipv4Address.Format(dp.VtepAddress));

        meter.CreateObservableCounter("fabric.port.received_frames", () => Ports(dp, c => c.Received), "{frame}", "Frames the port's workload sent into the switch, per port");
        meter.CreateObservableCounter("fabric.port.received", () => Ports(dp, c => c.ReceivedBytes), "By", "Bytes of the frames the port's workload sent into the switch, per port");
        meter.CreateObservableCounter("fabric.port.delivered_frames", () => Ports(dp, c => c.Delivered), "{frame}", "Frames the switch delivered to the port, per port");
        meter.CreateObservableCounter("fabric.port.delivered", () => Ports(dp, c => c.DeliveredBytes), "By", "Bytes of the frames the switch delivered to the port, per port");
        meter.CreateObservableCounter("fabric.port.dropped_frames", () => PortDrops(dp), "{frame}", "Frames from or to the port dropped, per port and reason");

        meter.CreateObservableCounter("fabric.vni.received_frames", () => Vnis(dp, c => c.Received), "{frame}", "Frames that entered the segment on this host, from local ports or the VTEP, per VNI");
        meter.CreateObservableCounter("fabric.vni.received", () => Vnis(dp, c => c.ReceivedBytes), "By", "Bytes of the frames that entered the segment on this host, per VNI");
        meter.CreateObservableCounter("fabric.vni.delivered_frames", () => Vnis(dp, c => c.Delivered), "{frame}", "Frames of the segment delivered to local ports, per VNI");
        meter.CreateObservableCounter("fabric.vni.delivered", () => Vnis(dp, c => c.DeliveredBytes), "By", "Bytes of the frames of the segment delivered to local ports, per VNI");
        meter.CreateObservableCounter("fabric.vni.encapsulated_frames", () => Vnis(dp, c => c.Encapsulated), "{frame}", "Frames of the segment sent to remote VTEPs (one per VTEP a flood reaches), per VNI");
        meter.CreateObservableCounter("fabric.vni.encapsulated", () => Vnis(dp, c => c.EncapsulatedBytes), "By", "Bytes of the inner frames of the segment sent to remote VTEPs, per VNI");
        meter.CreateObservableCounter("fabric.vni.flooded_frames", () => Vnis(dp, c => c.Flooded), "{frame}", "Broadcast, multicast and unknown unicast frames replicated, per VNI");
        meter.CreateObservableCounter("fabric.vni.arp_suppressed", () => Vnis(dp, c => c.ArpSuppressed), "{request}", "ARP requests answered on this host from the segment's bindings instead of flooded, per VNI");
        meter.CreateObservableCounter("fabric.vni.routed_packets", () => Vnis(dp, c => c.Routed), "{packet}", "IPv4 packets the anycast gateway routed out of the segment, per VNI");
        meter.CreateObservableCounter("fabric.vni.dropped_frames", () => VniDrops(dp), "{frame}", "Frames of the segment dropped, per VNI and reason");

        meter.CreateObservableCounter("fabric.vtep.received_datagrams", () => Vtep(dp.Counters.Vtep.Received, vtep), "{datagram}", "VXLAN datagrams received on the host's VTEP socket");
        meter.CreateObservableCounter("fabric.vtep.received", () => Vtep(dp.Counters.Vtep.ReceivedBytes, vtep), "By", "Bytes of the UDP payloads (VXLAN header and inner frame) received on the VTEP socket");
        meter.CreateObservableCounter("fabric.vtep.sent_datagrams", () => Vtep(dp.Counters.Vtep.Encapsulated, vtep), "{datagram}", "VXLAN datagrams sent to remote VTEPs");
        meter.CreateObservableCounter("fabric.vtep.sent", () => Vtep(dp.Counters.Vtep.EncapsulatedBytes, vtep), "By", "Bytes of the UDP payloads (VXLAN header and inner frame) sent to remote VTEPs");
        meter.CreateObservableCounter("fabric.vtep.dropped_datagrams", () => Drops(dp.Counters.Vtep, vtep), "{datagram}", "Datagrams received on or sent from the VTEP socket that were dropped, by reason");
    }

    private static IEnumerable<Measurement<long>> Ports(DataPlane dp, Func<TrafficCounters, long> read)
    {
        foreach (var port in dp.Snapshot.AttachedPorts)
        {
            yield return new Measurement<long>(read(dp.Counters.Ports[port.Index]), new KeyValuePair<string, object?>("port", port.Name));
        }
    }

    private static IEnumerable<Measurement<long>> Vnis(DataPlane dp, Func<TrafficCounters, long> read)
    {
        foreach (var (vni, counters) in dp.Counters.ByVni)
        {
            yield return new Measurement<long>(read(counters), VniTag(vni));
        }
    }

    private static IEnumerable<Measurement<long>> Vtep(long value, KeyValuePair<string, object?> vtep)
    {
        yield return new Measurement<long>(value, vtep);
    }

    private static IEnumerable<Measurement<long>> PortDrops(DataPlane dp)
    {
        foreach (var port in dp.Snapshot.AttachedPorts)
        {
            foreach (var measurement in Drops(dp.Counters.Ports[port.Index], new KeyValuePair<string, object?>("port", port.Name)))
            {
                yield return measurement;
            }
        }
    }

    private static IEnumerable<Measurement<long>> VniDrops(DataPlane dp)
    {
        foreach (var (vni, counters) in dp.Counters.ByVni)
        {
            foreach (var measurement in Drops(counters, VniTag(vni)))
            {
                yield return measurement;
            }
        }
    }

    /// <summary>Only reasons that counted a drop, so an idle port shows no series of twenty zeros.</summary>
    private static IEnumerable<Measurement<long>> Drops(TrafficCounters counters, KeyValuePair<string, object?> where)
    {
        for (int i = 0; i < Reasons.Length; i++)
        {
            if (counters.DropsOf(Reasons[i]) is > 0 and var n)
            {
                yield return new Measurement<long>(n, where, new KeyValuePair<string, object?>("reason", ReasonNames[i]));
            }
        }
    }

    private static KeyValuePair<string, object?> VniTag(uint vni) => new("vni", vni.ToString(CultureInfo.InvariantCulture));
}
