using Fabric.Addressing;
using Fabric.Grains.Validation;

namespace Fabric.Grains.Switches;

/// <summary>Turns a <see cref="PortGroupSpec"/> into a valid, normalised <see cref="PortGroup"/> or throws.</summary>
internal static class PortGroupValidator
{
    public static PortGroup Validate(string name, PortGroupSpec? spec)
    {
        Guard.Name(name, "portGroup");
        Guard.NotNull(spec, "spec");
        Guard.Vni(spec.Vni);
        ushort mask = spec.ReservedGroupForwardMask ?? 0;
        if ((mask & PortGroup.PauseBit) != 0)
        {
            Guard.Throw("forwardReservedGroups", "forwardReservedGroups cannot include 01:80:c2:00:00:01: 802.3 PAUSE frames are never forwarded by a bridge (IEEE 802.1Q Table 8-1).");
        }

        var ipv4 = spec.Ipv4 is null ? null : Ipam.Ipv4PoolValidator.Validate(spec.Ipv4);
        bool routed = spec.Routed ?? false;
        var network = spec.Network ?? NetworkMode.Overlay;
        if (!Enum.IsDefined(network))
        {
            Guard.Throw("network", $"network {(int)network} is not one of overlay, hostOnly, nat, bridged.");
        }

        if (routed && ipv4?.Gateway is null)
        {
            Guard.Throw("routed", "a routed port group needs ipv4.subnet and ipv4.gateway: the gateway is the anycast gateway its VMs route through.");
        }

        if (routed && network != NetworkMode.Overlay)
        {
            Guard.Throw("routed", $"only overlay port groups are routed between; a {NetworkModes.Name(network)} port group has its own way off its segment.");
        }

        if (network is NetworkMode.HostOnly or NetworkMode.Nat && ipv4?.Gateway is null)
        {
            Guard.Throw("network", $"a {NetworkModes.Name(network)} port group needs ipv4.subnet and ipv4.gateway: the gateway is the host's own address on the network.");
        }

        if (network == NetworkMode.Bridged && ipv4?.Dhcp == true)
        {
            Guard.Throw("ipv4.dhcp", "a bridged port group's VMs take their addresses from the physical LAN's DHCP server; ipv4.dhcp must be false.");
        }

        if (spec.UplinkVlan is { } uplinkVlan)
        {
            if (network != NetworkMode.Bridged)
            {
                Guard.Throw("bridged.uplinkVlan", "bridged.uplinkVlan applies to bridged port groups only.");
            }

            Guard.Vlan(uplinkVlan, "bridged.uplinkVlan");
        }

        var forwards = spec.PortForwards ?? [];
        if (forwards.Count != 0 && network != NetworkMode.Nat)
        {
            Guard.Throw("portForwards", "portForwards apply to nat port groups only.");
        }

        var seen = new HashSet<(string, int)>();
        var normalised = new List<PortForward>(forwards.Count);
        for (int i = 0; i < forwards.Count; i++)
        {
            var forward = forwards[i];
            Guard.NotNull(forward, $"portForwards[{i}]");
            string protocol = forward.Protocol?.ToLowerInvariant() ?? string.Empty;
            if (protocol is not ("tcp" or "udp"))
            {
                Guard.Throw($"portForwards[{i}].protocol", $"portForwards[{i}].protocol '{forward.Protocol}' is neither tcp nor udp.");
            }

            if (forward.HostPort is < 1 or > 65535)
            {
                Guard.Throw($"portForwards[{i}].hostPort", $"portForwards[{i}].hostPort {forward.HostPort} is out of range 1..65535.");
            }

            if (forward.VmPort is < 1 or > 65535)
            {
                Guard.Throw($"portForwards[{i}].vmPort", $"portForwards[{i}].vmPort {forward.VmPort} is out of range 1..65535.");
            }

            Guard.NotNull(forward.VmAddress, $"portForwards[{i}].vmAddress");
            uint address = forward.VmAddress.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? Ipv4.ToUInt32(forward.VmAddress) : 0;
            if (ipv4 is null || !ipv4.Contains(address) || address == ipv4.NetworkValue || address == ipv4.BroadcastValue
                || (ipv4.Gateway is { } gateway && address == Ipv4.ToUInt32(gateway)))
            {
                Guard.Throw($"portForwards[{i}].vmAddress", $"portForwards[{i}].vmAddress {forward.VmAddress} is not a VM address of {ipv4?.Subnet}.");
            }

            if (!seen.Add((protocol, forward.HostPort)))
            {
                Guard.Throw($"portForwards[{i}].hostPort", $"portForwards[{i}].hostPort {protocol}/{forward.HostPort} is forwarded twice.");
            }

            normalised.Add(forward with { Protocol = protocol });
        }

        return new PortGroup(name, spec.Vni, Validate(spec.Vlan ?? VlanPolicy.Untagged), Validate(spec.Security ?? SecurityPolicy.Default), mask, ipv4, routed,
            network, normalised.Count == 0 ? [] : [.. normalised], spec.UplinkVlan);
    }


    private static VlanPolicy Validate(VlanPolicy vlan)
    {
        var ranges = vlan.TrunkRanges ?? [];
        switch (vlan.Mode)
        {
            case VlanMode.Access:
                if (vlan.AccessVlan is { } access)
                {
                    Guard.Vlan(access, "vlan.accessVlan");
                }

                if (ranges.Count != 0)
                {
                    Guard.Throw("vlan.trunkRanges", "vlan.trunkRanges must be empty on an access port group.");
                }

                if (vlan.NativeVlan is not null)
                {
                    Guard.Throw("vlan.nativeVlan", "vlan.nativeVlan applies to trunk port groups only.");
                }

                return new VlanPolicy(VlanMode.Access, vlan.AccessVlan, [], null);

            case VlanMode.Trunk:
                if (vlan.AccessVlan is not null)
                {
                    Guard.Throw("vlan.accessVlan", "vlan.accessVlan applies to access port groups only.");
                }

                if (ranges.Count == 0)
                {
                    Guard.Throw("vlan.trunkRanges", "a trunk port group needs at least one VLAN range.");
                }

                var sorted = new List<VlanRange>(ranges.Count);
                foreach (var range in ranges)
                {
                    Guard.NotNull(range, "vlan.trunkRanges");
                    Guard.Vlan(range.First, "vlan.trunkRanges");
                    Guard.Vlan(range.Last, "vlan.trunkRanges");
                    if (range.First.Value > range.Last.Value)
                    {
                        Guard.Throw("vlan.trunkRanges", $"vlan.trunkRanges {range.First}-{range.Last} is inverted.");
                    }

                    sorted.Add(range);
                }

                sorted.Sort(static (a, b) => a.First.CompareTo(b.First));
                for (int i = 1; i < sorted.Count; i++)
                {
                    if (sorted[i].First.Value <= sorted[i - 1].Last.Value)
                    {
                        Guard.Throw("vlan.trunkRanges", $"vlan.trunkRanges {sorted[i - 1].First}-{sorted[i - 1].Last} and {sorted[i].First}-{sorted[i].Last} overlap.");
                    }
                }

                if (vlan.NativeVlan is { } native)
                {
                    Guard.Vlan(native, "vlan.nativeVlan");
                    if (!sorted.Exists(r => r.First.Value <= native.Value && native.Value <= r.Last.Value))
                    {
                        Guard.Throw("vlan.nativeVlan", $"vlan.nativeVlan {native} is not in any trunk range.");
                    }
                }

                return new VlanPolicy(VlanMode.Trunk, null, sorted, vlan.NativeVlan);

            default:
                Guard.Throw("vlan.mode", $"vlan.mode {(int)vlan.Mode} is neither access nor trunk.");
                return null;
        }
    }

    private static SecurityPolicy Validate(SecurityPolicy security)
    {
        if (security.MacLimit is < SecurityPolicy.MinMacLimit or > SecurityPolicy.MaxMacLimit)
        {
            Guard.Throw("security.macLimit", $"security.macLimit {security.MacLimit} is out of range {SecurityPolicy.MinMacLimit}..{SecurityPolicy.MaxMacLimit}.");
        }

        return security;
    }

    /// <summary>Value equality: the records' lists compare by reference.</summary>
    public static bool SameAs(this PortGroup a, PortGroup b)
        => a.Name == b.Name
            && a.Vni == b.Vni
            && a.Security == b.Security
            && a.ReservedGroupForwardMask == b.ReservedGroupForwardMask
            && a.Routed == b.Routed
            && a.Network == b.Network
            && a.UplinkVlan == b.UplinkVlan
            && a.Forwards.SequenceEqual(b.Forwards)
            && Ipam.Ipv4PoolValidator.Same(a.Ipv4, b.Ipv4)
            && a.Vlan.Mode == b.Vlan.Mode
            && a.Vlan.AccessVlan == b.Vlan.AccessVlan
            && a.Vlan.NativeVlan == b.Vlan.NativeVlan
            && a.Vlan.TrunkRanges.SequenceEqual(b.Vlan.TrunkRanges);
}
