namespace Fabric.Grains;

/// <summary>
/// A switch's routing domain: its routed port groups (<see cref="PortGroup.Routed"/>). Every host
/// with a port in one of them routes for its own VMs into any of them at ingress, so it holds the
/// segment (flood list, MACs, IP bindings) of every routed VNI of the switch, ports there or not: EVPN
/// asymmetric IRB, where every ingress VTEP has every destination VNI (RFC 9135 §4). The host grain
/// joins those segments and the agent replicates them by this one rule.
/// </summary>
public static class RoutingDomain
{
    /// <summary>
    /// The VNIs a host joins (flood lists, MAC table subscriptions): <paramref name="portVnis"/>
    /// (those its ports carry) but the host-local ones (<see cref="PortGroup.IsHostLocal"/>: nothing
    /// of them crosses hosts), and, when one of them is routed, every routed VNI of <paramref name="config"/>.
    /// </summary>
    /// <param name="config">The host's switch.</param>
    /// <param name="portVnis">The VNIs the host's ports carry.</param>
    /// <returns>A new set, never null.</returns>
    public static SortedSet<uint> VnisOfHost(SwitchConfig config, IEnumerable<uint> portVnis)
    {
        ArgumentNullException.ThrowIfNull(config);
        var hostLocal = config.PortGroups.Where(g => g.IsHostLocal).Select(g => g.Vni.Value).ToHashSet();
        var result = new SortedSet<uint>(portVnis.Where(v => !hostLocal.Contains(v)));
        var routed = config.PortGroups.Where(g => g.Routed).Select(g => g.Vni.Value).ToArray();
        if (routed.Any(result.Contains))
        {
            result.UnionWith(routed);
        }

        return result;
    }
}
