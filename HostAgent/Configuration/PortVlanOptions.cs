using Fabric.Addressing;
using Fabric.Grains;

namespace Fabric.HostAgent.Configuration;

/// <summary>
/// A port's own VLAN policy, overriding its port group's (a vSphere distributed port's VLAN
/// override). <c>access</c>: untagged (or priority-tagged) frames only, in the port group's VNI.
/// <c>trunk</c>: frames tagged with a VID of <see cref="TrunkRanges"/> go to the port group whose
/// access VLAN that is (IEEE 802.1Q trunking); untagged frames to <see cref="NativeVlan"/>'s port
/// group, or to the port's own port group when none is set.
/// </summary>
public sealed class PortVlanOptions
{
    /// <summary><c>access</c> or <c>trunk</c>.</summary>
    public string Mode { get; set; } = "access";

    /// <summary>Trunk only: the VIDs carried, <c>"100-199,300"</c>: ranges of IEEE 802.1Q VIDs 1..4094 that do not overlap.</summary>
    public string? TrunkRanges { get; set; }

    /// <summary>Trunk only, optional: the VID whose port group takes untagged frames; inside <see cref="TrunkRanges"/>.</summary>
    public int? NativeVlan { get; set; }

    /// <summary>The policy, or why there is none (a message naming the field, e.g. <c>vlan.trunkRanges</c>).</summary>
    public bool TryGetPolicy(out VlanPolicy policy, out string? error)
    {
        policy = VlanPolicy.Untagged;
        error = null;
        if (string.Equals(Mode, "access", StringComparison.OrdinalIgnoreCase))
        {
            if (TrunkRanges is { Length: > 0 } || NativeVlan is not null)
            {
                error = "vlan: an access port has no trunkRanges or nativeVlan.";
                return false;
            }

            return true;
        }

        if (!string.Equals(Mode, "trunk", StringComparison.OrdinalIgnoreCase))
        {
            error = $"vlan.mode '{Mode}' must be access or trunk.";
            return false;
        }

        var ranges = new List<VlanRange>();
        foreach (string part in (TrunkRanges ?? string.Empty).Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            string[] bounds = part.Split('-', 2, StringSplitOptions.TrimEntries);
            if (!int.TryParse(bounds[0], out int first) || !int.TryParse(bounds[^1], out int last) || !VlanId.IsValid(first) || !VlanId.IsValid(last) || last < first)
            {
                error = $"vlan.trunkRanges '{part}' is not a VID or range of VIDs within 1..4094 (IEEE 802.1Q).";
                return false;
            }

            if (ranges.Any(r => first <= r.Last.Value && last >= r.First.Value))
            {
                error = $"vlan.trunkRanges '{part}' overlaps another range.";
                return false;
            }

            ranges.Add(new VlanRange(new VlanId(first), new VlanId(last)));
        }

        if (ranges.Count == 0)
        {
            error = "vlan.trunkRanges is required for a trunk (e.g. \"100-199,300\").";
            return false;
        }

        if (NativeVlan is { } native && !(VlanId.IsValid(native) && ranges.Any(r => native >= r.First.Value && native <= r.Last.Value)))
        {
            error = $"vlan.nativeVlan {native} must be a VID inside trunkRanges.";
            return false;
        }

        policy = VlanPolicy.Trunk(ranges, NativeVlan is { } n ? new VlanId(n) : null);
        return true;
    }
}
