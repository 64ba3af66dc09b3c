using System.Collections.Frozen;
using Fabric.Grains;
using Fabric.HostAgent.Configuration;
using Fabric.HostAgent.Forwarding;

namespace Fabric.HostAgent.Control;

/// <summary>
/// Turns what the control plane knows (switch config, flood lists, MAC tables) into the immutable
/// <see cref="ForwardingSnapshot"/> the data plane reads.
/// </summary>
internal static class ForwardingBuilder
{
    /// <summary>
    /// The VNIs a port carries: an access port its port group's VNI; a trunk port its own port
    /// group's VNI (untagged, unless a native VLAN is set) and the VNI of every port group whose
    /// access VLAN falls in its trunk ranges (IEEE 802.1Q trunking of VDS-style port groups).
    /// </summary>
    public static PortForwarding BuildPort(int index, PortBindingOptions binding, SwitchConfig? config)
    {
        var group = config?.PortGroups.FirstOrDefault(g => g.Name == binding.PortGroup);
        ulong effectiveMac = binding.Mac is { Length: > 0 } mac ? Addressing.MacAddress.Parse(mac).Value : 0;
        if (binding.Role == PortRole.Uplink && config is not null)
        {
            // The LAN behind the uplink: each bridged port group untagged (at most one) or in its
            // uplink VLAN, many MACs, none of them the port's own.
            var bridged = config.PortGroups.Where(g => g.Network == NetworkMode.Bridged).ToArray();
            return new PortForwarding
            {
                Index = index,
                Name = binding.Interface,
                Trunk = true,
                VniByVid = bridged.Where(g => g.UplinkVlan is not null).ToFrozenDictionary(g => g.UplinkVlan!.Value.Value, g => g.Vni.Value),
                VidByVni = bridged.Where(g => g.UplinkVlan is not null).ToFrozenDictionary(g => g.Vni.Value, g => g.UplinkVlan!.Value.Value),
                NativeVni = bridged.FirstOrDefault(g => g.UplinkVlan is null)?.Vni.Value ?? 0,
                MacLimit = SecurityPolicy.MaxMacLimit,
                AllowForgedTransmits = true,
                IsUplink = true,
            };
        }

        if (group is null)
        {
            return new PortForwarding { Index = index, Name = binding.Interface, Trunk = false, AccessVni = 0, EffectiveMac = effectiveMac };
        }

        // The port's own VLAN policy, when it has one, overrides its port group's.
        var vlan = binding.Vlan is { } own && own.TryGetPolicy(out var policy, out _) ? policy : group.Vlan;
        if (vlan.Mode != VlanMode.Trunk)
        {
            return new PortForwarding
            {
                Index = index,
                Name = binding.Interface,
                Trunk = false,
                AccessVni = group.Vni.Value,
                MacLimit = group.Security.MacLimit,
                AllowForgedTransmits = group.Security.AllowForgedTransmits,
                AllowPromiscuous = group.Security.AllowPromiscuous,
                EffectiveMac = effectiveMac,
            };
        }

        var vniByVid = new Dictionary<ushort, uint>();
        foreach (var carried in config!.PortGroups)
        {
            if (carried.Vlan.Mode == VlanMode.Access && carried.Vlan.AccessVlan is { } access
                && vlan.TrunkRanges.Any(r => access.Value >= r.First.Value && access.Value <= r.Last.Value))
            {
                vniByVid[access.Value] = carried.Vni.Value;
            }
        }

        uint native = group.Vni.Value;
        if (vlan.NativeVlan is { } nativeVlan)
        {
            native = vniByVid.TryGetValue(nativeVlan.Value, out uint nativeVni) ? nativeVni : 0;
            vniByVid.Remove(nativeVlan.Value);
        }

        return new PortForwarding
        {
            Index = index,
            Name = binding.Interface,
            Trunk = true,
            VniByVid = vniByVid.ToFrozenDictionary(),
            VidByVni = vniByVid.ToFrozenDictionary(kv => kv.Value, kv => kv.Key),
            NativeVni = native,
            MacLimit = group.Security.MacLimit,
            AllowForgedTransmits = group.Security.AllowForgedTransmits,
            AllowPromiscuous = group.Security.AllowPromiscuous,
            EffectiveMac = effectiveMac,
        };
    }

    public static IEnumerable<uint> VnisOf(PortForwarding port)
    {
        if (!port.Trunk)
        {
            if (port.AccessVni != 0)
            {
                yield return port.AccessVni;
            }

            yield break;
        }

        if (port.NativeVni != 0)
        {
            yield return port.NativeVni;
        }

        foreach (uint vni in port.VniByVid.Values)
        {
            yield return vni;
        }
    }

    /// <summary>
    /// The forwarding tables of <paramref name="ports"/> from the replicated state. Our own host and
    /// our own VTEP address (<paramref name="ownVtep"/>, host order) never appear in a flood list, as
    /// an accepted source or as the VTEP of a remote MAC: a VTEP registered at our own address would
    /// otherwise send every broadcast back to ourselves.
    /// </summary>
    public static ForwardingSnapshot Build(
        PortForwarding[] ports,
        long generation,
        string hostId,
        uint ownVtep,
        int vxlanPort,
        IReadOnlyDictionary<uint, SegmentSnapshot> segments,
        IReadOnlyDictionary<uint, IReadOnlyDictionary<Addressing.MacAddress, MacEntry>> macs,
        DataPlaneCounters counters,
        Dictionary<uint, RemoteVtep> vtepCache,
        IReadOnlyDictionary<uint, IReadOnlyDictionary<System.Net.IPAddress, Addressing.MacAddress>>? bindings = null,
        IReadOnlyDictionary<uint, ushort>? reservedGroupForwardMasks = null,
        int mtu = 1450,
        SwitchConfig? config = null)
    {
        RemoteVtep Vtep(uint address)
        {
            if (!vtepCache.TryGetValue(address, out var vtep))
            {
                vtep = new RemoteVtep(address, vxlanPort);
                vtepCache[address] = vtep;
            }

            return vtep;
        }

        var result = new Dictionary<uint, SegmentForwarding>();
        var vnis = config is null ? ports.SelectMany(VnisOf).ToHashSet() : ports.SelectMany(VnisOf).Concat(RoutingDomain.VnisOfHost(config, ports.SelectMany(VnisOf))).ToHashSet();
        var routers = new Dictionary<uint, RouterInterface>();
        foreach (var group in config?.PortGroups ?? [])
        {
            if (group.Routed && group.Ipv4 is { Gateway: { } gateway } pool && vnis.Contains(group.Vni.Value))
            {
                routers[group.Vni.Value] = new RouterInterface
                {
                    Vni = group.Vni.Value,
                    Gateway = Wire.Ipv4Address.FromIPAddress(gateway),
                    Network = pool.NetworkValue,
                    Mask = pool.Mask,
                };
            }
        }

        var dhcp = new Dictionary<uint, DhcpScope>();
        foreach (var group in config?.PortGroups ?? [])
        {
            if (group.Ipv4 is { Dhcp: true, Gateway: { } server } pool)
            {
                dhcp[group.Vni.Value] = new DhcpScope
                {
                    PortGroup = group.Name,
                    Pool = pool,
                    Gateway = Wire.Ipv4Address.FromIPAddress(server),
                    DnsServers = [.. pool.Dns.Select(Wire.Ipv4Address.FromIPAddress)],
                };
            }
        }

        foreach (uint vni in vnis)
        {
            var group = config?.PortGroups.FirstOrDefault(g => g.Vni.Value == vni);
            bool hostLocal = group?.IsHostLocal == true;
            var segment = hostLocal ? null : segments.GetValueOrDefault(vni);
            var flood = segment is not null
                ? segment.FloodList.Where(e => e.HostId != hostId).Select(e => Wire.Ipv4Address.FromIPAddress(e.Vtep)).Where(a => a != ownVtep).Distinct().ToArray()
                : [];
            var external = segment is null
                ? []
                : segment.FloodList.Where(e => ExternalVteps.IsExternal(e.HostId)).Select(e => Wire.Ipv4Address.FromIPAddress(e.Vtep)).Where(a => a != ownVtep).ToArray();
            var remote = new Dictionary<ulong, RemoteVtep>();
            IReadOnlyDictionary<Addressing.MacAddress, MacEntry>? table = null;
            if (!hostLocal && macs.TryGetValue(vni, out table))
            {
                foreach (var entry in table.Values)
                {
                    uint address = Wire.Ipv4Address.FromIPAddress(entry.Vtep);
                    if (entry.HostId != hostId && address != ownVtep)
                    {
                        remote[entry.Mac.Value] = Vtep(address);
                    }
                }
            }

            var arp = new Dictionary<uint, ulong>();
            if (bindings is not null && bindings.TryGetValue(vni, out var bound) && table is not null)
            {
                foreach (var (ip, mac) in bound)
                {
                    // Only for MACs the table still has: a withdrawn MAC is not answered for.
                    if (table.ContainsKey(mac))
                    {
                        arp[Wire.Ipv4Address.FromIPAddress(ip)] = mac.Value;
                    }
                }
            }

            var router = routers.GetValueOrDefault(vni);
            if (router is not null)
            {
                // The anycast gateway answers ARP for its address on every host (RFC 9135 §4.1).
                arp[router.Gateway] = PortGroup.GatewayMac.Value;
            }

            result[vni] = new SegmentForwarding
            {
                Vni = vni,
                LocalPorts = ports.Where(p => VnisOf(p).Contains(vni)).Select(p => p.Index).ToArray(),
                FloodList = flood.Select(Vtep).ToArray(),
                Vteps = flood.Concat(remote.Values.Select(v => v.Address)).ToFrozenSet(),
                RemoteMacs = remote.ToFrozenDictionary(),
                ArpBindings = arp.ToFrozenDictionary(),
                PromiscuousPorts = ports.Where(p => p.AllowPromiscuous && VnisOf(p).Contains(vni)).Select(p => p.Index).ToArray(),
                ExternalVteps = external.ToFrozenSet(),
                ReservedGroupForwardMask = reservedGroupForwardMasks?.GetValueOrDefault(vni) ?? 0,
                Counters = counters.ForVni(vni),
                Router = router,
                Dhcp = dhcp.GetValueOrDefault(vni),
                HostLocal = hostLocal,
                UplinkPort = group?.Network == NetworkMode.Bridged ? Array.FindIndex(ports, p => p.IsUplink && VnisOf(p).Contains(vni)) : -1,
            };
        }

        return new ForwardingSnapshot
        {
            Ports = ports,
            Segments = result.ToFrozenDictionary(),
            Generation = generation,
            MaxInnerFrameLength = mtu + Wire.EthernetFrame.HeaderLength,
            Routes = [.. routers.Values.OrderBy(r => r.Vni)],
            RemoteMirrors = RemoteMirrorsOf(config, hostId, ports),
        };
    }

    /// <summary>The switch's remote mirror sessions of this host's attached ports, in session name order.</summary>
    private static Mirroring.RemoteMirrorSpec[] RemoteMirrorsOf(SwitchConfig? config, string hostId, PortForwarding[] ports)
    {
        var specs = new List<Mirroring.RemoteMirrorSpec>();
        foreach (var session in config?.Mirrors ?? [])
        {
            int slot = session.Host == hostId ? Array.FindIndex(ports, p => p.Attached && p.Name == session.Port) : -1;
            if (slot >= 0)
            {
                specs.Add(new Mirroring.RemoteMirrorSpec(slot, session.Direction, session));
            }
        }

        return [.. specs];
    }
}
