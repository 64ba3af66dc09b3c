namespace Fabric.Grains.Diagnostics;

/// <summary>
/// Every event id that Fabric.Grains logs with, in one place (as Kestrel's <c>SocketsLog</c> and
/// Orleans' <c>ErrorCode</c> keep theirs), so that each id is stable and unique and an operator can
/// alert on it. Every <c>[LoggerMessage]</c> in this assembly takes its id from here; a unit test
/// fails on an id used twice, one outside the range, or one not listed here.
/// </summary>
/// <remarks>
/// <para>
/// Ranges of the project: Fabric.Grains 1000–1999 (this class), Fabric.Silo 2000–2999,
/// Fabric.HostAgent 3000–3999. Within this one: 1000 switch, 1100 directory, 1200 segment,
/// 1300 MAC table, 1400 host and its liveness.
/// </para>
/// <para>
/// An id keeps its meaning once released. A retired id is removed from the constants, listed under
/// "Retired and changed ids" with what it meant, and never used again.
/// </para>
/// <para>
/// Retired and changed ids:
/// 1300 was used by two messages until issue 8: the MAC table's duplicate MAC warning (which keeps
/// it, <see cref="MacFrozen"/>) and the host liveness sweep's failure, which is now
/// <see cref="HostLivenessSweepFailed"/> (1404).
/// </para>
/// </remarks>
internal static class GrainsEventIds
{
    // 1000–1099: the switch grain.

    /// <summary>Information: a switch was created.</summary>
    public const int SwitchCreated = 1000;

    /// <summary>Information: a port group was created or changed.</summary>
    public const int PortGroupSet = 1001;

    /// <summary>Information: a port group was removed.</summary>
    public const int PortGroupRemoved = 1002;

    /// <summary>Information: a switch was deleted.</summary>
    public const int SwitchDeleted = 1003;

    /// <summary>Error: writing a switch's state failed; the activation is dropped and reloads.</summary>
    public const int SwitchWriteFailed = 1004;

    /// <summary>Warning: a released VNI's segment could not be reset at once; it is reset when claimed next.</summary>
    public const int SegmentNotEnded = 1005;

    // 1100–1199: the directory grain.

    /// <summary>Information: a port group claimed a VNI.</summary>
    public const int VniClaimed = 1100;

    /// <summary>Information: a port group released its VNI.</summary>
    public const int VniReleased = 1101;

    // 1200–1299: the segment grain.

    /// <summary>Information: a host joined a flood list (or changed VTEP).</summary>
    public const int FloodListJoined = 1200;

    /// <summary>Information: a host left a flood list.</summary>
    public const int FloodListLeft = 1201;

    /// <summary>Information: a segment was reset (its VNI was released or claimed anew).</summary>
    public const int SegmentReset = 1202;

    // 1300–1399: the MAC table grain.

    /// <summary>Warning: duplicate MAC detection froze a MAC (RFC 7432 §15.1); an operator clears it.</summary>
    public const int MacFrozen = 1300;

    /// <summary>Information: a host's learned MACs were withdrawn from a segment.</summary>
    public const int HostMacsWithdrawn = 1301;

    /// <summary>Warning: an IPv4 address kept moving between MACs and was flagged duplicate (RFC 9161 §3); an operator clears it.</summary>
    public const int IpFlaggedDuplicate = 1302;

    /// <summary>Information: MACs learned behind an external VTEP aged out (no agent learned them again in time).</summary>
    public const int ExternalMacsAged = 1303;

    /// <summary>Information: a MAC table was reset (its VNI was released or claimed anew).</summary>
    public const int MacTableReset = 1304;

    // 1400–1499: the host grain and host liveness.

    /// <summary>Information: a host registered or re-registered.</summary>
    public const int HostRegistered = 1400;

    /// <summary>Warning: a host was declared dead for silence; its MACs were withdrawn.</summary>
    public const int HostDeclaredDead = 1401;

    /// <summary>Information: a host declared dead was heard from again.</summary>
    public const int HostRevived = 1402;

    /// <summary>Information: a host unregistered.</summary>
    public const int HostUnregistered = 1403;

    /// <summary>Debug: a silo's periodic sweep of the host grains failed; it tries again next period. Was 1300.</summary>
    public const int HostLivenessSweepFailed = 1404;
}
