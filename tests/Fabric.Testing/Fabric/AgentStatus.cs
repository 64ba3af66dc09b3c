using System.Text.Json;
using System.Text.Json.Serialization;

namespace Fabric.Testing;

/// <summary>
/// A host agent's status file (JSON the agent rewrites every second, atomically): the one place the
/// tests read it. A read may be up to a second old; <see cref="ReadFreshAsync"/> gives one the agent
/// computed after the call, for a baseline or for checking that something did not happen.
/// </summary>
public sealed class AgentStatusFile(string path)
{
    private static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web);

    /// <summary>The file's path.</summary>
    public string Path { get; } = path;

    /// <summary>The status as the file holds it now; waits (default 10 s) for the file to exist.</summary>
    public Task<AgentStatus> ReadAsync(TimeSpan? timeout = null) => Eventually.ValueAsync(
        async () => Parse(await File.ReadAllTextAsync(Path)),
        _ => true,
        timeout ?? TimeSpan.FromSeconds(10),
        $"the agent status file {Path}",
        TimeSpan.FromMilliseconds(100));

    /// <summary>
    /// A status the agent computed after this call: the file is rewritten twice first (the first
    /// rewrite may hold a snapshot taken just before the call). Waits at most <paramref name="timeout"/> (default 10 s).
    /// </summary>
    public async Task<AgentStatus> ReadFreshAsync(TimeSpan? timeout = null)
    {
        var bound = timeout ?? TimeSpan.FromSeconds(10);
        for (int rewrite = 0; rewrite < 2; rewrite++)
        {
            var seen = File.GetLastWriteTimeUtc(Path);
            await Eventually.WaitAsync(() => File.GetLastWriteTimeUtc(Path) != seen, bound, $"the agent to rewrite {Path}", TimeSpan.FromMilliseconds(50));
        }

        return await ReadAsync(bound);
    }

    /// <summary>Reads status JSON (the file's shape).</summary>
    public static AgentStatus Parse(string json)
        => (JsonSerializer.Deserialize<AgentStatus>(json, Options) ?? throw new JsonException("empty status")) with { Json = json };
}

/// <summary>What an agent's status file holds: counters, ports, segments with their tables, local MACs.</summary>
/// <param name="HostId">The agent's host id.</param>
/// <param name="Generation">The configuration generation its tables were built from.</param>
/// <param name="Total">Counters over every port and the VTEP (e.g. <c>arpSuppressed</c>, <c>drop.SendFailed</c>).</param>
/// <param name="Vtep">Counters of the VTEP socket (e.g. <c>received</c>, <c>drop.Malformed</c>, <c>malformed.BadVni</c>).</param>
/// <param name="Ports">The local ports.</param>
/// <param name="Segments">The segments the host is in, with their forwarding tables.</param>
/// <param name="LocalMacs">The MACs learned on local ports.</param>
/// <param name="ExternalMacs">The MACs learned behind external VTEPs from their datagrams.</param>
/// <param name="WrittenAt">When the agent took this status (UTC).</param>
public sealed record AgentStatus(
    string HostId,
    long Generation,
    IReadOnlyDictionary<string, long> Total,
    IReadOnlyDictionary<string, long> Vtep,
    IReadOnlyList<AgentPortStatus> Ports,
    IReadOnlyList<AgentSegmentStatus> Segments,
    IReadOnlyList<AgentLocalMac> LocalMacs,
    IReadOnlyList<AgentExternalMac>? ExternalMacs = null,
    DateTimeOffset WrittenAt = default)
{
    /// <summary>The JSON it was read from (for failure messages).</summary>
    [JsonIgnore]
    public string Json { get; init; } = string.Empty;

    /// <summary>The segment of <paramref name="vni"/>, or null if the host is not in it.</summary>
    public AgentSegmentStatus? Segment(long vni) => Segments.FirstOrDefault(s => s.Vni == vni);

    /// <summary>The local port named <paramref name="name"/>.</summary>
    public AgentPortStatus Port(string name)
        => Ports.FirstOrDefault(p => p.Name == name) ?? throw new KeyNotFoundException($"no port {name} in the status of {HostId}:\n{Json}");

    /// <summary>The VTEP the agent forwards <paramref name="mac"/> of <paramref name="vni"/> to, or null.</summary>
    public string? RemoteMac(long vni, string mac) => Lookup(Segment(vni)?.RemoteMacs, mac);

    /// <summary>The MAC the agent answers ARP for <paramref name="ip"/> in <paramref name="vni"/> with, or null.</summary>
    public string? ArpBinding(long vni, string ip) => Lookup(Segment(vni)?.ArpBindings, ip);

    /// <summary>Whether <paramref name="mac"/> is learned on a local port (any VNI).</summary>
    public bool HoldsLocalMac(string mac) => LocalMacs.Any(m => string.Equals(m.Mac, mac, StringComparison.OrdinalIgnoreCase));

    /// <inheritdoc/>
    public override string ToString() => Json;

    private static string? Lookup(IReadOnlyDictionary<string, string>? table, string key)
        => table?.FirstOrDefault(kv => string.Equals(kv.Key, key, StringComparison.OrdinalIgnoreCase)).Value;
}

/// <summary>A local port in an agent's status.</summary>
/// <param name="Name">The interface.</param>
/// <param name="Trunk">Whether it is a trunk port.</param>
/// <param name="Macs">How many MACs are learned on it.</param>
/// <param name="Counters">Its counters (e.g. <c>delivered</c>, <c>drop.MacLimitExceeded</c>).</param>
public sealed record AgentPortStatus(string Name, bool Trunk, int Macs, IReadOnlyDictionary<string, long> Counters);

/// <summary>A segment in an agent's status.</summary>
/// <param name="Vni">The VNI.</param>
/// <param name="LocalPorts">The local ports in it.</param>
/// <param name="FloodList">The other VTEPs it floods to.</param>
/// <param name="RemoteMacs">MAC → the VTEP it is behind.</param>
/// <param name="ArpBindings">IPv4 address → MAC, for ARP suppression.</param>
/// <param name="Counters">Its counters.</param>
public sealed record AgentSegmentStatus(
    long Vni,
    IReadOnlyList<string> LocalPorts,
    IReadOnlyList<string> FloodList,
    IReadOnlyDictionary<string, string> RemoteMacs,
    IReadOnlyDictionary<string, string> ArpBindings,
    IReadOnlyDictionary<string, long> Counters);

/// <summary>A MAC learned on a local port.</summary>
/// <param name="Vni">The VNI it was learned in.</param>
/// <param name="Mac">The MAC.</param>
/// <param name="Port">The port.</param>
/// <param name="Ips">The IPv4 addresses it claimed in ARP.</param>
public sealed record AgentLocalMac(long Vni, string Mac, string Port, IReadOnlyList<string>? Ips = null);

/// <summary>A MAC learned behind an external VTEP.</summary>
/// <param name="Vni">The VNI.</param>
/// <param name="Mac">The MAC.</param>
/// <param name="Vtep">The external VTEP's address.</param>
public sealed record AgentExternalMac(long Vni, string Mac, string Vtep);
