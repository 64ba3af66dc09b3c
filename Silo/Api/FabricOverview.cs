using Fabric.Grains;

namespace Fabric.Silo.Api;

/// <summary>
/// <c>GET /api/fabric</c>: the whole fabric in one answer, as the fabric page shows it: every host,
/// switch (with its port groups), segment (flood list and FDB) and the alarms an operator acts on.
/// Read-only grain calls only (one per host, switch and segment, two per segment), made in parallel.
/// </summary>
/// <param name="TakenAt">When the answer was put together (UTC).</param>
/// <param name="Hosts">Every registered host, by id (as <c>GET /api/hosts</c>).</param>
/// <param name="Switches">Every switch, by name (as <c>GET /api/switches</c>).</param>
/// <param name="Segments">The segment of every port group, by VNI.</param>
/// <param name="Alarms">What needs an operator, most severe first.</param>
public sealed record FabricOverview(
    DateTimeOffset TakenAt,
    IReadOnlyList<HostView> Hosts,
    IReadOnlyList<SwitchView> Switches,
    IReadOnlyList<SegmentOverview> Segments,
    IReadOnlyList<FabricAlarm> Alarms);

/// <summary>A segment (the VNI of a port group) with its flood list and its MAC table.</summary>
/// <param name="Vni">The VNI, 1..16777215.</param>
/// <param name="Switch">The switch of the port group.</param>
/// <param name="PortGroup">The port group.</param>
/// <param name="Network">The port group's network mode: <c>overlay</c>, <c>hostOnly</c>, <c>nat</c> or <c>bridged</c>.</param>
/// <param name="Version">The segment's version (its flood list's).</param>
/// <param name="FloodList">The VTEPs with ports in the segment (agent hosts and external VTEPs), by host id.</param>
/// <param name="Macs">The FDB entries, by MAC; a <c>sequence</c> above 1 is a MAC that moved (EVPN mobility, RFC 7432 §15).</param>
/// <param name="IpBindings">IPv4 → MAC bindings (ARP suppression), by address; <c>duplicate</c> ones are not proxied.</param>
public sealed record SegmentOverview(
    uint Vni,
    string Switch,
    string PortGroup,
    string Network,
    long Version,
    IReadOnlyList<FloodListEntryView> FloodList,
    IReadOnlyList<MacEntryView> Macs,
    IReadOnlyList<IpBindingView> IpBindings);

/// <summary>Something that needs an operator.</summary>
/// <param name="Severity"><c>critical</c> (a dead host) or <c>warning</c> (a frozen MAC, a duplicate IP, a host behind its switch's generation).</param>
/// <param name="Kind"><c>hostDead</c>, <c>macFrozen</c>, <c>ipDuplicate</c> or <c>hostLagging</c>.</param>
/// <param name="Subject">What it is about: a host id, <c>{vni}/{mac}</c> or <c>{vni}/{ip}</c>.</param>
/// <param name="Detail">One sentence for a person.</param>
public sealed record FabricAlarm(string Severity, string Kind, string Subject, string Detail);

/// <summary>Builds <see cref="FabricOverview"/> from the grains.</summary>
internal static class FabricOverviewReader
{
    public static async Task<FabricOverview> ReadAsync(IGrainFactory grains, TimeProvider time)
    {
        var directory = grains.GetGrain<IFabricDirectoryGrain>(IFabricDirectoryGrain.Key);
        var hostIds = await directory.ListHostsAsync();
        var switchNames = await directory.ListSwitchesAsync();
        var hostsTask = Task.WhenAll(hostIds.Select(id => grains.GetGrain<IHostGrain>(id).GetAsync()));
        var switchesTask = Task.WhenAll(switchNames.Select(name => grains.GetGrain<ISwitchGrain>(name).GetAsync()));
        var hosts = (await hostsTask).OfType<HostInfo>().OrderBy(h => h.Id, StringComparer.Ordinal).ToArray();
        var configs = (await switchesTask).OfType<SwitchConfig>().OrderBy(s => s.Name, StringComparer.Ordinal).ToArray();

        var groups = configs.SelectMany(c => c.PortGroups.Select(g => (Switch: c.Name, Group: g))).OrderBy(x => x.Group.Vni.Value).ToArray();
        var segments = await Task.WhenAll(groups.Select(async x =>
        {
            var floodTask = grains.GetGrain<ISegmentGrain>(x.Group.Vni.Value).GetAsync();
            var fdbTask = grains.GetGrain<IMacTableGrain>(x.Group.Vni.Value).GetSnapshotAsync();
            var flood = await floodTask;
            var fdb = MacTableView.From(await fdbTask);
            return new SegmentOverview(
                x.Group.Vni.Value,
                x.Switch,
                x.Group.Name,
                NetworkModes.Name(x.Group.Network),
                flood.Version,
                [.. flood.FloodList.OrderBy(e => e.HostId, StringComparer.Ordinal).Select(e => new FloodListEntryView(e.HostId, e.Vtep.ToString()))],
                fdb.Entries,
                fdb.IpBindings);
        }));

        var switches = configs.Select(c => SwitchView.From(c, [.. hosts
            .Where(h => h.Switch == c.Name)
            .Select(h => new HostGenerationView(h.Id, h.AppliedGeneration, h.Alive))])).ToArray();

        return new FabricOverview(time.GetUtcNow(), [.. hosts.Select(HostView.From)], switches, segments, Alarms(hosts, configs, segments));
    }

    private static FabricAlarm[] Alarms(IReadOnlyList<HostInfo> hosts, IReadOnlyList<SwitchConfig> switches, IReadOnlyList<SegmentOverview> segments)
    {
        var alarms = new List<FabricAlarm>();
        foreach (var host in hosts.Where(h => !h.Alive))
        {
            alarms.Add(new("critical", "hostDead", host.Id,
                $"Host {host.Id} (VTEP {host.Vtep}) is dead: no heartbeat since {host.LastHeartbeat:u}; its MACs are withdrawn and it left every flood list."));
        }

        foreach (var segment in segments)
        {
            foreach (var mac in segment.Macs.Where(m => m.Frozen))
            {
                alarms.Add(new("warning", "macFrozen", $"{segment.Vni}/{mac.Mac}",
                    $"MAC {mac.Mac} in VNI {segment.Vni} ({segment.PortGroup}) kept moving and is frozen at {mac.HostId}/{mac.Port}: two ports claim it."));
            }

            foreach (var binding in segment.IpBindings.Where(b => b.Duplicate))
            {
                alarms.Add(new("warning", "ipDuplicate", $"{segment.Vni}/{binding.Ip}",
                    $"IP {binding.Ip} in VNI {segment.Vni} ({segment.PortGroup}) is claimed by more than one MAC (last {binding.Mac}); ARP for it is no longer proxied. DELETE /api/segments/{segment.Vni}/ips/{binding.Ip} clears it."));
            }
        }

        var versions = switches.ToDictionary(s => s.Name, s => s.Version, StringComparer.Ordinal);
        foreach (var host in hosts.Where(h => h.Alive))
        {
            if (versions.TryGetValue(host.Switch, out long version) && host.AppliedGeneration < version)
            {
                alarms.Add(new("warning", "hostLagging", host.Id,
                    $"Host {host.Id} has applied generation {host.AppliedGeneration} of switch {host.Switch}, which is at {version}."));
            }
        }

        return [.. alarms.OrderBy(a => a.Severity == "critical" ? 0 : 1)];
    }
}
