using Azure;
using Azure.Data.Tables;

namespace Fabric.Providers.AzureTables;

/// <summary>
/// One row of the membership table. Three kinds of row share a partition (the cluster id):
/// the version row (<see cref="VersionRowKey"/>, only <see cref="MembershipVersion"/> set), one
/// membership row per silo (row key "address-port-generation"), and one heartbeat row per silo
/// (the silo's row key + <see cref="HeartbeatSuffix"/>, only <see cref="IAmAliveTime"/> set).
/// </summary>
/// <remarks>
/// The heartbeat lives in its own row so that UpdateIAmAlive never changes the membership row's
/// ETag: Orleans 10 requires that a row ETag read before a heartbeat is still accepted by UpdateRow,
/// and Table storage changes an entity's ETag on every write, even a merge of one column.
/// Times are stored as round-trip ("O") strings so they come back exactly as written.
/// </remarks>
public sealed class SiloInstanceTableEntity : ITableEntity
{
    /// <summary>Row key of the table version row.</summary>
    public const string VersionRowKey = "VersionRow";

    /// <summary>Appended to a silo's row key to form its heartbeat row key.</summary>
    public const string HeartbeatSuffix = "~IAmAlive";

    public string PartitionKey { get; set; } = "";
    public string RowKey { get; set; } = "";
    public DateTimeOffset? Timestamp { get; set; }
    public ETag ETag { get; set; }

    /// <summary>The cluster id as given (the partition key is its encoded form).</summary>
    public string? ClusterId { get; set; }

    public string? Address { get; set; }
    public int Port { get; set; }
    public int Generation { get; set; }
    public string? HostName { get; set; }
    /// <summary>Orleans <c>SiloStatus</c> name, e.g. "Active".</summary>
    public string? Status { get; set; }
    public int ProxyPort { get; set; }
    public string? RoleName { get; set; }
    public string? SiloName { get; set; }
    public int UpdateZone { get; set; }
    public int FaultZone { get; set; }
    /// <summary>Suspecting silos, '|'-separated parsable silo addresses.</summary>
    public string? SuspectingSilos { get; set; }
    /// <summary>Times of the suspicions, '|'-separated, in the same order.</summary>
    public string? SuspectingTimes { get; set; }
    public string? StartTime { get; set; }
    public string? IAmAliveTime { get; set; }

    /// <summary>Only on the version row.</summary>
    public int? MembershipVersion { get; set; }

    public bool IsVersionRow => RowKey == VersionRowKey;

    public bool IsHeartbeatRow => RowKey.EndsWith(HeartbeatSuffix, StringComparison.Ordinal);
}
