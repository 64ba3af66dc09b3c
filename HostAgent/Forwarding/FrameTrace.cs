using System.Buffers.Binary;
using Fabric.Addressing;
using Fabric.HostAgent.Wire;

namespace Fabric.HostAgent.Forwarding;

/// <summary>One decision of the pipeline about a traced frame.</summary>
/// <param name="Stage">The pipeline stage, in order: <c>port</c>, <c>parse</c>, <c>vlan</c>, <c>reservedGroup</c>, <c>portSecurity</c>, <c>learning</c>, <c>uplink</c>, <c>dhcp</c>, <c>arp</c>, <c>route</c>, <c>lookup</c> (docs/architecture.md, "Data plane").</param>
/// <param name="Verdict">What it decided: a VNI, <c>ok</c>, <c>drop</c>, <c>learned</c>, <c>answered</c>, <c>routed</c>, <c>flood</c>, <c>local</c>, <c>remote</c>, ...</param>
/// <param name="Detail">Why, in an operator's words, with the table entries it used.</param>
internal sealed record TraceStep(string Stage, string Verdict, string Detail);

/// <summary>A copy of the traced frame (or one the pipeline made of it) that would have left.</summary>
/// <param name="Kind"><c>port</c> (a local port), <c>vtep</c> (VXLAN to a remote VTEP) or <c>dhcp</c> (the agent's DHCP server).</param>
/// <param name="Port">The local port's name (kind <c>port</c>).</param>
/// <param name="Vni">The VNI it travels in (the outer VXLAN header's, for kind <c>vtep</c>).</param>
/// <param name="Vlan">The 802.1Q VID it leaves tagged with on a trunk port; null when untagged.</param>
/// <param name="Vtep">The remote VTEP's address (kind <c>vtep</c>).</param>
/// <param name="Flood">Whether it is a copy of a flood (head-end replication, RFC 7348 §4.2) rather than a unicast lookup's result.</param>
/// <param name="FrameHex">The Ethernet frame as it would leave (the inner frame for a VTEP), lowercase hex.</param>
internal sealed record TraceOutputView(string Kind, string? Port, uint? Vni, ushort? Vlan, string? Vtep, bool Flood, string FrameHex);

/// <summary>
/// The result of a dry run (<see cref="DataPlane.Trace"/>): each decision of the pipeline and the
/// exact output set. Read back from the sandbox the real pipeline ran in: its counters say where it
/// dropped (<see cref="DataPlaneDrop"/>) and what it did (routed, ARP answered, flooded), its MAC
/// table copy what it learned, its recording output what would have been sent.
/// </summary>
/// <param name="Port">The ingress port.</param>
/// <param name="Vni">The VNI the frame was classified into; null when it got none.</param>
/// <param name="FrameHex">The traced frame, lowercase hex.</param>
/// <param name="Result"><c>forwarded</c>, <c>routed</c>, <c>answered</c> (the agent answered it: ARP suppression, the gateway), <c>punted</c> (to the DHCP server), <c>consumed</c> (ends at the gateway) or <c>dropped</c>.</param>
/// <param name="Drop">The drop reason, as counted (<see cref="DataPlaneDrop"/>, or <c>Malformed.{reason}</c>); null when not dropped.</param>
/// <param name="Steps">The decisions in pipeline order.</param>
/// <param name="Outputs">Everything that would have been sent, in order.</param>
internal sealed record FrameTrace(string Port, uint? Vni, string FrameHex, string Result, string? Drop, IReadOnlyList<TraceStep> Steps, IReadOnlyList<TraceOutputView> Outputs)
{
    /// <summary>The host the trace ran on (set by the management endpoint).</summary>
    public string Host { get; init; } = "";

    private static readonly DataPlaneDrop[] VlanDrops = [DataPlaneDrop.TaggedOnAccessPort, DataPlaneDrop.StackedVlanTags, DataPlaneDrop.VlanNotAllowed, DataPlaneDrop.NoSegment];
    private static readonly DataPlaneDrop[] SecurityDrops = [DataPlaneDrop.InvalidSourceMac, DataPlaneDrop.ForgedTransmit, DataPlaneDrop.MacLimitExceeded];
    private static readonly DataPlaneDrop[] RouteDrops = [DataPlaneDrop.NotRoutable, DataPlaneDrop.RouteUnresolved, DataPlaneDrop.FragmentationUnsupported];

    /// <summary>Reads the decisions of a dry run back from its sandbox.</summary>
    internal static FrameTrace Explain(
        int portIndex,
        ReadOnlySpan<byte> frame,
        ForwardingSnapshot live,
        LocalMacTable liveMacs,
        ForwardingSnapshot sandbox,
        LocalMacTable sandboxMacs,
        DataPlaneCounters counters,
        TraceOutput output,
        Dhcp.DhcpPunts punts)
    {
        var port = live.Ports[portIndex];
        var steps = new List<TraceStep> { new("port", port.Name, DescribePort(port, live)) };
        string hex = Convert.ToHexStringLower(frame);
        var total = counters.Total;
        DataPlaneDrop? drop = Enum.GetValues<DataPlaneDrop>().Where(r => total.DropsOf(r) > 0).Select(r => (DataPlaneDrop?)r).FirstOrDefault();
        DropReason? malformed = Enum.GetValues<DropReason>().Where(r => r != DropReason.None && total.MalformedOf(r) > 0).Select(r => (DropReason?)r).FirstOrDefault();
        var outputs = OutputsOf(output, live, sandbox);
        var ingress = sandbox.Segments.Values.FirstOrDefault(s => s.Counters.Received > 0);
        EthernetFrame.TryParse(frame, out var ethernet, out _);

        FrameTrace Done(string result, string? dropName) => new(port.Name, ingress?.Vni, hex, result, dropName, steps, outputs);
        FrameTrace Dropped(string stage, DataPlaneDrop reason, string detail)
        {
            steps.Add(new(stage, "drop", $"{reason}: {detail}"));
            return Done("dropped", reason.ToString());
        }

        if (ingress is null)
        {
            if (drop is { } early && VlanDrops.Contains(early))
            {
                return Dropped("vlan", early, DescribeVlanDrop(early, ethernet));
            }

            if (malformed is { } reason)
            {
                steps.Add(new("parse", "drop", $"malformed: {reason}"));
                return Done("dropped", $"Malformed.{reason}");
            }

            steps.Add(new("vlan", "drop", "the frame got no VNI"));
            return Done("dropped", drop?.ToString());
        }

        uint vni = ingress.Vni;
        steps.Add(new("vlan", $"VNI {vni}", DescribeClassification(port, ethernet, vni)));
        if (drop == DataPlaneDrop.ReservedGroupAddress)
        {
            return Dropped("reservedGroup", DataPlaneDrop.ReservedGroupAddress, "IEEE 802.1Q §8.6.3 reserved group address (STP, PAUSE, LACP, EAPOL, LLDP); the port group does not forward it");
        }

        var source = ethernet.Source;
        if (drop is { } security && SecurityDrops.Contains(security))
        {
            return Dropped("portSecurity", security, security switch
            {
                DataPlaneDrop.InvalidSourceMac => $"source {source} is not a unicast MAC",
                DataPlaneDrop.ForgedTransmit => $"source {source} is not the port's effective MAC {EffectiveMac(port, liveMacs)} and the port group rejects forged transmits",
                _ => $"the port holds its port group's limit of {port.MacLimit} MACs",
            });
        }

        steps.Add(new("portSecurity", "ok", port.AllowForgedTransmits ? $"source {source}: forged transmits allowed"
            : port.EffectiveMac == 0 && !port.Trunk && liveMacs.FirstLearned(port.Index) == 0 ? $"source {source} becomes the port's effective MAC (the first learned on it)"
            : port.EffectiveMac == 0 && port.Trunk ? $"source {source}: a trunk without a configured MAC is not checked"
            : $"source {source} is the port's effective MAC"));
        steps.Add(DescribeLearning(vni, source, portIndex, live, liveMacs, sandboxMacs));
        if (drop == DataPlaneDrop.UplinkNotForThisHost)
        {
            return Dropped("uplink", DataPlaneDrop.UplinkNotForThisHost, $"from the bridged uplink, {ethernet.Destination} is not a VM of this host");
        }

        if (punts.TryTake(new byte[Dhcp.DhcpPunts.MaxFrameLength], out _, out _, out _))
        {
            steps.Add(new("dhcp", "punted", $"a DHCP client message on a port group that serves DHCP ({ingress.Dhcp?.PortGroup}): to this agent's DHCP server, nowhere else"));
            return Done("punted", null);
        }

        if (drop == DataPlaneDrop.DhcpUnserved)
        {
            return Dropped("dhcp", DataPlaneDrop.DhcpUnserved, "the DHCP server's queue is full");
        }

        if (ethernet.EtherType == EtherType.Arp && ArpPacket.TryRead(ethernet.Payload, out var arp, out _))
        {
            if (total.ArpSuppressed > 0)
            {
                var reply = outputs.FirstOrDefault();
                string owner = ingress.ArpBindings.TryGetValue(arp.TargetProtocolAddress, out ulong bound) ? new MacAddress(bound).ToString()
                    : arp.TargetProtocolAddress == ingress.Router?.Gateway ? $"{Grains.PortGroup.GatewayMac} (the anycast gateway)" : "?";
                steps.Add(new("arp", "answered", $"who-has {Ipv4Address.ToIPAddress(arp.TargetProtocolAddress)}: answered on {port.Name} with {owner} (ARP suppression, RFC 9161)"));
                return Done("answered", null);
            }

            steps.Add(new("arp", arp.SenderHardwareAddress == source && arp.SenderProtocolAddress != 0 ? "claim" : "flood",
                arp.SenderHardwareAddress == source && arp.SenderProtocolAddress != 0
                    ? $"{source} claims {Ipv4Address.ToIPAddress(arp.SenderProtocolAddress)}" + (ingress.ArpBindings.ContainsKey(arp.TargetProtocolAddress) || arp.Operation != ArpOperation.Request ? "" : $"; no binding for {Ipv4Address.ToIPAddress(arp.TargetProtocolAddress)}, so the request is not suppressed")
                    : "not snooped (the ARP sender is not the frame's source, or a probe)"));
        }

        bool toGateway = ingress.Router is not null && ethernet.Destination == Grains.PortGroup.GatewayMac;
        if (toGateway)
        {
            if (drop is { } routeDrop && (RouteDrops.Contains(routeDrop) || routeDrop == DataPlaneDrop.TooLong))
            {
                string icmp = total.IcmpSent > 0 ? "; the gateway answers with ICMP" : "";
                return Dropped("route", routeDrop, routeDrop switch
                {
                    DataPlaneDrop.RouteUnresolved => "the destination has no IP binding yet; the gateway asks for it with ARP in the destination segment",
                    DataPlaneDrop.FragmentationUnsupported => $"larger than the MTU {live.Mtu} without DF",
                    DataPlaneDrop.TooLong => $"larger than the MTU {live.Mtu} with DF: fragmentation needed (RFC 1191)",
                    _ => "not routable (not IPv4, a source outside the ingress subnet, TTL expired, no routed subnet, a broadcast, or to the gateway itself)",
                } + icmp);
            }

            if (total.IcmpSent > 0)
            {
                steps.Add(new("route", "answered", "the anycast gateway answers (ICMP echo reply or error)"));
                return Done("answered", null);
            }

            if (total.Routed > 0)
            {
                var egress = sandbox.Segments.Values.FirstOrDefault(s => s.Vni != vni && (s.Counters.Delivered > 0 || s.Counters.Encapsulated > 0 || s.Counters.Flooded > 0));
                uint egressVni = outputs.FirstOrDefault()?.Vni ?? egress?.Vni ?? 0;
                var route = live.Routes.FirstOrDefault(r => r.Vni == egressVni);
                steps.Add(new("route", "routed", $"to VNI {egressVni}" + (route is null ? "" : $" (subnet {Ipv4Address.ToIPAddress(route.Network)}/{System.Numerics.BitOperations.PopCount(route.Mask)})") + ": MACs rewritten, TTL − 1 (RFC 9135 asymmetric IRB)"));
                AddLookup(steps, egressVni, outputs, sandbox, drop);
                return Done("routed", null);
            }

            steps.Add(new("route", "consumed", "ends at the gateway (an ARP reply to it, already snooped)"));
            return Done("consumed", null);
        }

        if (drop is { } late)
        {
            steps.Add(new(late == DataPlaneDrop.Hairpin ? "lookup" : "output", "drop", late == DataPlaneDrop.Hairpin
                ? $"{late}: {ethernet.Destination} is on the port the frame came from"
                : $"{late}"));
            return Done("dropped", late.ToString());
        }

        AddLookup(steps, vni, outputs, sandbox, drop);
        return Done(outputs.Count > 0 ? "forwarded" : "dropped", null);
    }

    private static void AddLookup(List<TraceStep> steps, uint vni, IReadOnlyList<TraceOutputView> outputs, ForwardingSnapshot sandbox, DataPlaneDrop? drop)
    {
        bool flooded = sandbox.Segments.TryGetValue(vni, out var segment) && segment.Counters.Flooded > 0;
        string targets = outputs.Count == 0 ? "nowhere (no other port or VTEP in the segment)" : string.Join(", ", outputs.Select(o => o.Kind == "vtep" ? $"VTEP {o.Vtep}" : $"port {o.Port}"));
        steps.Add(flooded
            ? new("lookup", "flood", $"broadcast, multicast or unknown unicast in VNI {vni}: every other local port, then head-end replication to the flood list → {targets}")
            : new("lookup", outputs.FirstOrDefault()?.Kind == "vtep" ? "remote" : "local", $"known unicast in VNI {vni} → {targets}"));
    }

    private static IReadOnlyList<TraceOutputView> OutputsOf(TraceOutput output, ForwardingSnapshot live, ForwardingSnapshot sandbox)
    {
        var views = new List<TraceOutputView>(output.Sends.Count);
        foreach (var sent in output.Sends)
        {
            if (sent.Port < 0)
            {
                bool flood = sandbox.Segments.TryGetValue(sent.Vni, out var s) && s.Counters.Flooded > 0;
                views.Add(new("vtep", null, sent.Vni, null, Ipv4Address.ToIPAddress(sent.Vtep).ToString(), flood, Convert.ToHexStringLower(sent.Frame)));
                continue;
            }

            var port = live.Ports[sent.Port];
            uint? vni = port.Trunk ? port.NativeVni : port.AccessVni;
            ushort? vlan = null;
            if (EthernetFrame.TryParse(sent.Frame, out var ethernet, out _) && ethernet.IsTagged)
            {
                vlan = ethernet.Tag.Vid;
                vni = port.VniByVid.TryGetValue(ethernet.Tag.Vid, out uint tagged) ? tagged : vni;
            }

            bool flooded = vni is { } v && sandbox.Segments.TryGetValue(v, out var seg) && seg.Counters.Flooded > 0;
            views.Add(new("port", port.Name, vni, vlan, null, flooded, Convert.ToHexStringLower(sent.Frame)));
        }

        return views;
    }

    private static string DescribePort(PortForwarding port, ForwardingSnapshot live)
    {
        string mode = port.Trunk
            ? $"trunk: VLANs {string.Join(",", port.VniByVid.OrderBy(kv => kv.Key).Select(kv => $"{kv.Key}→VNI {kv.Value}"))}, native VNI {(port.NativeVni == 0 ? "none" : port.NativeVni)}"
            : $"access: VNI {port.AccessVni}";
        return $"slot {port.Index}, {mode}; forged transmits {(port.AllowForgedTransmits ? "allowed" : "rejected")}, MAC limit {port.MacLimit}, switch generation {live.Generation}";
    }

    private static string DescribeVlanDrop(DataPlaneDrop reason, EthernetFrame ethernet) => reason switch
    {
        DataPlaneDrop.TaggedOnAccessPort => $"tagged (VID {ethernet.Tag.Vid}) on an access port",
        DataPlaneDrop.StackedVlanTags => "stacked tags (QinQ): VLAN hopping is never forwarded",
        DataPlaneDrop.VlanNotAllowed => ethernet.IsTagged ? $"VID {ethernet.Tag.Vid} is not in the trunk's ranges" : "untagged on a trunk without a native VLAN",
        _ => "the port's port group has no segment on this host",
    };

    private static string DescribeClassification(PortForwarding port, EthernetFrame ethernet, uint vni)
    {
        if (!ethernet.IsTagged)
        {
            return port.Trunk ? $"untagged on a trunk → the native VLAN's VNI {vni}" : $"untagged on an access port → VNI {vni}";
        }

        return ethernet.Tag.IsPriorityTag
            ? $"priority-tagged (VID 0) → VNI {vni} as untagged (IEEE 802.1Q)"
            : $"VID {ethernet.Tag.Vid} → VNI {vni}; the tag is popped (RFC 7348 §6.1)";
    }

    private static string EffectiveMac(PortForwarding port, LocalMacTable macs)
        => port.EffectiveMac != 0 ? new MacAddress(port.EffectiveMac).ToString()
            : macs.FirstLearned(port.Index) is not 0 and var first ? $"{new MacAddress(first)} (the first learned)" : "(none yet)";

    private static TraceStep DescribeLearning(uint vni, MacAddress source, int portIndex, ForwardingSnapshot live, LocalMacTable liveMacs, LocalMacTable sandboxMacs)
    {
        bool published = false;
        while (sandboxMacs.TryTakeLearned(out var key))
        {
            published |= key.Vni == vni && key.Mac == source.Value;
        }

        string port = live.Ports[portIndex].Name;
        if (!liveMacs.TryGet(vni, source.Value, out var known))
        {
            return new("learning", "learned", $"{source} is new in VNI {vni}: learned on {port} and published to the MAC table");
        }

        if (known.Port != portIndex)
        {
            return new("learning", "moved", $"{source} moves from {live.Ports[known.Port].Name} to {port} (published with the next mobility sequence)");
        }

        return new("learning", published ? "claim" : "known", published ? $"{source} known on {port}; its new address claim is published" : $"{source} already learned on {port}");
    }
}
