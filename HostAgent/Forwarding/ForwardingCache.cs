using System.Collections.Frozen;
using System.Text.Json;

namespace Fabric.HostAgent.Forwarding;

/// <summary>
/// The data plane's last tables on disk, so a restarted agent forwards again as soon as its ports are
/// open instead of after it has re-synchronized with the cluster (OVS keeps its datapath flows
/// across a restart for the same reason). Only a recent file for the same host, switch and ports is
/// used, and only until the first snapshot from the cluster replaces it.
/// </summary>
internal static class ForwardingCache
{
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = false };

    /// <summary>Writes <paramref name="snapshot"/> atomically (temporary file, then rename).</summary>
    public static void Save(string path, string hostId, string switchName, ForwardingSnapshot snapshot, DateTimeOffset now)
    {
        var saved = new SavedTables(
            hostId,
            switchName,
            now.ToUnixTimeMilliseconds(),
            snapshot.Generation,
            snapshot.MaxInnerFrameLength,
            [.. snapshot.AttachedPorts.Select(p => new SavedPort(p.Index, p.Name, p.Trunk, p.AccessVni, p.NativeVni, p.MacLimit, p.VniByVid.ToDictionary(), p.AllowForgedTransmits, p.AllowPromiscuous, p.EffectiveMac))],
            [.. snapshot.Segments.Values.OrderBy(s => s.Vni).Select(s => new SavedSegment(
                s.Vni,
                s.LocalPorts,
                [.. s.FloodList.Select(v => v.Address)],
                [.. s.Vteps],
                s.RemoteMacs.ToDictionary(kv => kv.Key, kv => kv.Value.Address),
                s.ArpBindings.ToDictionary(),
                s.PromiscuousPorts,
                s.ReservedGroupForwardMask,
                [.. s.ExternalVteps]))]);
        string temp = path + ".tmp";
        File.WriteAllBytes(temp, JsonSerializer.SerializeToUtf8Bytes(saved, Json));
        File.Move(temp, path, overwrite: true);
    }

    /// <summary>
    /// The saved tables as a snapshot, or null with the reason when there is no usable file: missing,
    /// unreadable, older than <paramref name="maxAge"/>, or saved for another host, switch or port list (slots and interfaces).
    /// </summary>
    public static ForwardingSnapshot? Load(
        string path,
        string hostId,
        string switchName,
        IReadOnlyList<(int Slot, string Name)> ports,
        int capacity,
        TimeSpan maxAge,
        DateTimeOffset now,
        DataPlaneCounters counters,
        Func<uint, RemoteVtep> vtep,
        out string reason)
    {
        SavedTables? saved;
        try
        {
            saved = JsonSerializer.Deserialize<SavedTables>(File.ReadAllBytes(path), Json);
        }
        catch (FileNotFoundException)
        {
            reason = "no saved tables";
            return null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or JsonException or NotSupportedException)
        {
            reason = $"unreadable ({ex.GetType().Name})";
            return null;
        }

        var age = now - DateTimeOffset.FromUnixTimeMilliseconds(saved?.SavedAtUnixMs ?? 0);
        if (saved?.Ports is null || saved.Segments is null)
        {
            reason = "unreadable (incomplete)";
            return null;
        }

        if (saved.HostId != hostId || saved.Switch != switchName || !saved.Ports.Select(p => (p.Index, p.Name)).Order().SequenceEqual(ports.Select(p => (p.Slot, p.Name)).Order()))
        {
            reason = "saved for another host, switch or port list";
            return null;
        }

        if (age < TimeSpan.Zero || age > maxAge)
        {
            reason = $"saved {age.TotalSeconds:F0} s ago, older than {maxAge.TotalSeconds:F0} s";
            return null;
        }

        if (saved.Ports.Any(p => p.Index < 0 || p.Index >= capacity))
        {
            reason = "saved for more port slots than Fabric:Agent:MaxPorts";
            return null;
        }

        var table = PortForwarding.FreeTable(capacity);
        foreach (var port in saved.Ports.Select(p => new PortForwarding
        {
            Index = p.Index,
            Name = p.Name,
            Trunk = p.Trunk,
            AccessVni = p.AccessVni,
            NativeVni = p.NativeVni,
            MacLimit = p.MacLimit,
            AllowForgedTransmits = p.AllowForgedTransmits,
            AllowPromiscuous = p.AllowPromiscuous,
            EffectiveMac = p.EffectiveMac,
            VniByVid = (p.VniByVid ?? []).ToFrozenDictionary(),
            VidByVni = (p.VniByVid ?? []).ToFrozenDictionary(kv => kv.Value, kv => kv.Key),
        }))
        {
            table[port.Index] = port;
        }

        var segments = new Dictionary<uint, SegmentForwarding>();
        foreach (var s in saved.Segments)
        {
            if (s.LocalPorts is null || s.LocalPorts.Concat(s.PromiscuousPorts ?? []).Any(p => p < 0 || p >= capacity || !table[p].Attached))
            {
                reason = "unreadable (a segment names a port that does not exist)";
                return null;
            }

            segments[s.Vni] = new SegmentForwarding
            {
                Vni = s.Vni,
                LocalPorts = s.LocalPorts,
                FloodList = [.. (s.FloodList ?? []).Select(vtep)],
                Vteps = (s.Vteps ?? []).ToFrozenSet(),
                RemoteMacs = (s.RemoteMacs ?? []).ToFrozenDictionary(kv => kv.Key, kv => vtep(kv.Value)),
                ArpBindings = (s.ArpBindings ?? []).ToFrozenDictionary(),
                PromiscuousPorts = s.PromiscuousPorts ?? [],
                ReservedGroupForwardMask = s.ReservedGroupForwardMask,
                ExternalVteps = (s.ExternalVteps ?? []).ToFrozenSet(),
                Counters = counters.ForVni(s.Vni),
            };
        }

        reason = $"saved {age.TotalSeconds:F1} s ago";
        return new ForwardingSnapshot
        {
            Ports = table,
            Segments = segments.ToFrozenDictionary(),
            Generation = saved.Generation,
            MaxInnerFrameLength = saved.MaxInnerFrameLength > 0 ? saved.MaxInnerFrameLength : 1450 + Wire.EthernetFrame.HeaderLength,
        };
    }

    private sealed record SavedTables(string HostId, string Switch, long SavedAtUnixMs, long Generation, int MaxInnerFrameLength, SavedPort[] Ports, SavedSegment[] Segments);

    // Fields added later are optional, so an older file still loads: policies missing from it take
    // the port group defaults (forged transmits and promiscuous mode rejected, no reserved group forwarded).
    private sealed record SavedPort(
        int Index,
        string Name,
        bool Trunk,
        uint AccessVni,
        uint NativeVni,
        int MacLimit,
        Dictionary<ushort, uint>? VniByVid,
        bool AllowForgedTransmits = false,
        bool AllowPromiscuous = false,
        ulong EffectiveMac = 0);

    private sealed record SavedSegment(
        uint Vni,
        int[]? LocalPorts,
        uint[]? FloodList,
        uint[]? Vteps,
        Dictionary<ulong, uint>? RemoteMacs,
        Dictionary<uint, ulong>? ArpBindings,
        int[]? PromiscuousPorts = null,
        ushort ReservedGroupForwardMask = 0,
        uint[]? ExternalVteps = null);
}
