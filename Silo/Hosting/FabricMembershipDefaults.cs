using Orleans.Configuration;

namespace Fabric.Silo.Hosting;

/// <summary>
/// How quickly the cluster notices a silo that died: Orleans' <see cref="ClusterMembershipOptions"/>,
/// bound from <c>Fabric:Cluster:Membership</c> (property names as in Orleans) over Fabric's defaults.
/// </summary>
/// <remarks>
/// Orleans' own defaults take about a minute to declare a killed silo dead (5 s probes, 3 misses,
/// 60 s table refresh); until then calls to the grains it hosted fail. A Fabric cluster is a handful of
/// silos on one underlay, so cluster mode uses tighter timings that declare a killed silo dead within a
/// few seconds: 1 s probes (Orleans adapts them between 0.5 s and 4 s from measured round trips),
/// 2 missed probes to suspect, 2 votes to declare (each silo probes up to 3 others), table read every
/// 2 s. Loosen them on a slow or lossy network, where false suspicions cost more than slow detection.
/// </remarks>
public static class FabricMembershipDefaults
{
    public const string SectionName = FabricSiloOptions.SectionName + ":Membership";

    public static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(1);
    public const int NumMissedProbesLimit = 2;
    public const int NumVotesForDeathDeclaration = 2;
    public static readonly TimeSpan TableRefreshTimeout = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Heartbeat rows mark entries of silos that vanished while the whole cluster was down as stale
    /// after two missed periods, so a restarted cluster does not wait on them.
    /// </summary>
    public static readonly TimeSpan IAmAliveTablePublishTimeout = TimeSpan.FromSeconds(5);

    /// <summary>Longer than the time to collect the votes, shorter than Orleans' 2 minutes.</summary>
    public static readonly TimeSpan DeathVoteExpirationTimeout = TimeSpan.FromSeconds(30);

    /// <summary>Applies Fabric's cluster-mode defaults to <paramref name="options"/>.</summary>
    public static void Apply(ClusterMembershipOptions options)
    {
        options.ProbeTimeout = ProbeTimeout;
        options.NumMissedProbesLimit = NumMissedProbesLimit;
        options.NumVotesForDeathDeclaration = NumVotesForDeathDeclaration;
        options.TableRefreshTimeout = TableRefreshTimeout;
        options.IAmAliveTablePublishTimeout = IAmAliveTablePublishTimeout;
        options.DeathVoteExpirationTimeout = DeathVoteExpirationTimeout;
    }
}
