using System.Net;

namespace Fabric.Grains;

/// <summary>
/// How the fabric names a VTEP with no agent (a Linux kernel VXLAN device, a hardware VTEP): in flood
/// lists and MAC tables it stands as the host <c>external-{address}</c> with the port <c>external</c>.
/// Agents learn the MACs behind it from its datagrams (RFC 7348 §4.1) and publish them under that name.
/// </summary>
public static class ExternalVteps
{
    /// <summary>The prefix of an external VTEP's host id.</summary>
    public const string HostIdPrefix = "external-";

    /// <summary>The port name of every MAC behind an external VTEP.</summary>
    public const string Port = "external";

    /// <summary>The host id standing for the external VTEP at <paramref name="vtep"/>, e.g. <c>external-10.0.0.3</c>.</summary>
    /// <param name="vtep">The VTEP's underlay address.</param>
    /// <returns>The host id; it follows <see cref="FabricNames"/> for any IPv4 address.</returns>
    public static string HostId(IPAddress vtep) => HostIdPrefix + vtep;

    /// <summary>Whether <paramref name="hostId"/> stands for an external VTEP rather than an agent host.</summary>
    /// <param name="hostId">A host id of a flood list entry or MAC table entry.</param>
    /// <returns>True for <c>external-…</c>.</returns>
    public static bool IsExternal(string hostId) => hostId.StartsWith(HostIdPrefix, StringComparison.Ordinal);
}
