namespace Fabric.Grains.Switches;

[GenerateSerializer, Alias("fabric.switch-state")]
internal sealed class SwitchState
{
    /// <summary>False before the first configure and after delete; <see cref="Version"/> survives delete so generations never go back.</summary>
    [Id(0)] public bool Created { get; set; }

    [Id(1)] public int Mtu { get; set; }

    [Id(2)] public long Version { get; set; }

    [Id(3)] public SortedDictionary<string, PortGroup> PortGroups { get; set; } = new(StringComparer.Ordinal);

    /// <summary>Member host → uplink.</summary>
    [Id(4)] public SortedDictionary<string, string> Members { get; set; } = new(StringComparer.Ordinal);

    /// <summary>Registered host → the port groups its ports use.</summary>
    [Id(5)] public SortedDictionary<string, List<string>> AttachedHosts { get; set; } = new(StringComparer.Ordinal);

    /// <summary>Remote port mirroring sessions by name.</summary>
    [Id(6)] public SortedDictionary<string, MirrorSession> Mirrors { get; set; } = new(StringComparer.Ordinal);
}
