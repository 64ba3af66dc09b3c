using System.Net;

namespace Fabric.Grains;

/// <summary>Which frames of a port a mirror session copies.</summary>
[GenerateSerializer, Alias("fabric.mirror-direction")]
public enum MirrorDirection
{
    /// <summary>What the port sends into the switch (the VM's transmit; a vSphere Distributed Switch's "ingress" source).</summary>
    In = 1,

    /// <summary>What the switch delivers to the port (the VM's receive; "egress").</summary>
    Out = 2,

    /// <summary>Both.</summary>
    Both = 3,
}

/// <summary>How a remote mirror session carries its copies to the collector.</summary>
[GenerateSerializer, Alias("fabric.mirror-encapsulation")]
public enum MirrorEncapsulation
{
    /// <summary>VXLAN (RFC 7348) to UDP 4789 of the collector, in <see cref="MirrorSession.Vni"/>: a Linux vxlan device or any VTEP decapsulates it.</summary>
    Vxlan,

    /// <summary>
    /// ERSPAN type II (GRE protocol 0x88BE with a sequence number, then the 8-byte ERSPAN header with
    /// <see cref="MirrorSession.SessionId"/>; draft-foschiano-erspan §4.1), as a vSphere Distributed
    /// Switch's "encapsulated remote mirroring (L3) source" sends it: Wireshark, Linux erspan devices
    /// and physical analysers decode it.
    /// </summary>
    Erspan,
}

/// <summary>
/// A remote port mirroring session of a switch (vSphere Distributed Switch "encapsulated remote
/// mirroring"): every frame one host's port sends or receives, copied by that host's agent to a
/// collector on the underlay, encapsulated. Part of the switch configuration (a change is a new
/// generation, so <c>?wait=applied</c> holds for it). A copy longer than <see cref="SnapLength"/> is
/// cut to it (the receiver sees the original length in the inner headers).
/// </summary>
/// <param name="Name">The session name, unique in the switch (<see cref="FabricNames"/>).</param>
/// <param name="Host">The host whose port is mirrored (<see cref="FabricNames"/>).</param>
/// <param name="Port">The port (the interface name on that host, 1..15 characters).</param>
/// <param name="Direction">What is copied.</param>
/// <param name="Destination">The collector's IPv4 address on the underlay (unicast).</param>
/// <param name="Encapsulation">How copies are carried.</param>
/// <param name="Vni">The VNI of VXLAN copies, 1..16777215; null for ERSPAN.</param>
/// <param name="SessionId">The ERSPAN session id, 0..1023; null for VXLAN.</param>
/// <param name="SnapLength">Bytes of each frame copied, 60..9232; null: as much as fits the switch's MTU.</param>
[GenerateSerializer, Immutable, Alias("fabric.mirror-session")]
public sealed record MirrorSession(
    [property: Id(0)] string Name,
    [property: Id(1)] string Host,
    [property: Id(2)] string Port,
    [property: Id(3)] MirrorDirection Direction,
    [property: Id(4)] IPAddress Destination,
    [property: Id(5)] MirrorEncapsulation Encapsulation,
    [property: Id(6)] uint? Vni = null,
    [property: Id(7)] int? SessionId = null,
    [property: Id(8)] int? SnapLength = null)
{
    /// <summary>The most sessions a switch holds: 16.</summary>
    public const int MaxPerSwitch = 16;

    /// <summary>Checks every field; throws <see cref="FabricValidationException"/> naming the first bad one.</summary>
    public void Validate()
    {
        static void Fail(string field, string message) => throw new FabricValidationException(field, message);
        if (!FabricNames.IsValid(Name))
        {
            Fail("name", "a mirror session name is 1..64 letters, digits, '.', '_', '-'.");
        }

        if (!FabricNames.IsValid(Host))
        {
            Fail("host", "host is a host id (1..64 letters, digits, '.', '_', '-').");
        }

        if (string.IsNullOrEmpty(Port) || Port.Length > 15 || !FabricNames.IsValid(Port))
        {
            Fail("port", "port is an interface name, 1..15 characters (Linux IFNAMSIZ − 1).");
        }

        if (!Enum.IsDefined(Direction))
        {
            Fail("direction", "direction is in, out or both.");
        }

        byte[] address = Destination?.GetAddressBytes() ?? [];
        if (Destination is null || Destination.AddressFamily != System.Net.Sockets.AddressFamily.InterNetwork
            || address[0] == 0 || address[0] >= 224 || Destination.Equals(IPAddress.Broadcast) || address[0] == 127)
        {
            Fail("destination", "destination is the collector's unicast IPv4 address on the underlay.");
        }

        switch (Encapsulation)
        {
            case MirrorEncapsulation.Vxlan:
                if (Vni is not (>= 1 and <= Addressing.Vni.MaxValue))
                {
                    Fail("vni", "a VXLAN mirror needs vni 1..16777215 (RFC 7348 §5).");
                }

                if (SessionId is not null)
                {
                    Fail("sessionId", "sessionId is for ERSPAN; a VXLAN mirror has a vni.");
                }

                break;
            case MirrorEncapsulation.Erspan:
                if (SessionId is not (>= 0 and <= 1023))
                {
                    Fail("sessionId", "an ERSPAN mirror needs sessionId 0..1023 (10 bits of the ERSPAN header).");
                }

                if (Vni is not null)
                {
                    Fail("vni", "vni is for VXLAN; an ERSPAN mirror has a sessionId.");
                }

                break;
            default:
                Fail("encapsulation", "encapsulation is vxlan or erspan.");
                break;
        }

        if (SnapLength is < 60 or > 9232)
        {
            Fail("snapLength", "snapLength is 60..9232 bytes, or absent for as much as fits the MTU.");
        }
    }
}
