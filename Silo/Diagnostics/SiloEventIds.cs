namespace Fabric.Silo.Diagnostics;

/// <summary>
/// Every event id that Fabric.Silo logs with, in one place (as Kestrel's <c>SocketsLog</c> and
/// Orleans' <c>ErrorCode</c> keep theirs), so that each id is stable and unique and an operator can
/// alert on it. Every <c>[LoggerMessage]</c> in this assembly takes its id from here; a unit test
/// fails on an id used twice, one outside the range, or one not listed here.
/// </summary>
/// <remarks>
/// <para>
/// Ranges of the project: Fabric.Grains 1000–1999, Fabric.Silo 2000–2999 (this class),
/// Fabric.HostAgent 3000–3999. Within this one: 2000 management API; 2100 onwards is free for the
/// silo's hosting (cluster mode, storage, health).
/// </para>
/// <para>
/// An id keeps its meaning once released. A retired id is removed from the constants, listed under
/// "Retired ids" with what it meant, and never used again. Retired ids: none.
/// </para>
/// </remarks>
internal static class SiloEventIds
{
    // 2000–2099: the management API.

    /// <summary>Warning: a management call failed because the cluster or its storage was unreachable (answered 503).</summary>
    public const int ManagementCallUnavailable = 2001;

    /// <summary>Error: a management call failed unexpectedly (answered 500).</summary>
    public const int ManagementCallFailed = 2002;

    // 2100–2199: hosting (start-up checks of cluster mode).

    /// <summary>Information: the table endpoint of <c>Fabric:Storage</c> answered the start-up check.</summary>
    public const int TableStorageAnswered = 2100;
}
