using System.Globalization;
using System.Net;
using System.Text;
using Azure;
using Azure.Data.Tables;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans;
using Orleans.Configuration;
using Orleans.Runtime;

namespace Fabric.Providers.AzureTables;

/// <summary>
/// Orleans membership table on Azure Table storage. Partition = cluster id; the version row and the
/// silo rows change together in one entity group transaction, so a stale table version or a stale
/// row ETag rejects the whole change.
/// </summary>
public sealed partial class FabricTableMembershipTable : IMembershipTable
{
    private readonly FabricTableClusteringOptions _options;
    private readonly string _clusterId;
    private readonly string _partitionKey;
    private readonly ILogger _logger;
    private TableClient? _table;

    public FabricTableMembershipTable(
        IOptions<FabricTableClusteringOptions> options,
        IOptions<ClusterOptions> clusterOptions,
        ILogger<FabricTableMembershipTable> logger)
    {
        _options = options.Value;
        _clusterId = clusterOptions.Value.ClusterId;
        _partitionKey = TableKeyEncoding.Encode(_clusterId);
        _logger = logger;
    }

    private TableClient Table => _table ?? throw new InvalidOperationException(
        $"{nameof(FabricTableMembershipTable)} is used before {nameof(InitializeMembershipTable)}.");

    public Task InitializeMembershipTable(bool tryInitTableVersion) =>
        InitializeMembershipTableAsync(tryInitTableVersion, CancellationToken.None);

    public async Task InitializeMembershipTableAsync(bool tryInitTableVersion, CancellationToken cancellationToken)
    {
        _table = await FabricTableClients.CreateTableIfNotExistsAsync(_options, _options.TableName, cancellationToken).ConfigureAwait(false);
        if (!tryInitTableVersion)
        {
            return;
        }

        try
        {
            await _table.AddEntityAsync(NewVersionRow(0), cancellationToken).ConfigureAwait(false);
            LogCreatedVersionRow(_options.TableName, _clusterId);
        }
        catch (RequestFailedException exception) when (exception.Status == (int)HttpStatusCode.Conflict)
        {
            // Another silo created it first; all we need is that it exists.
        }
    }

    public Task<MembershipTableData> ReadAll() => ReadAllAsync(CancellationToken.None);

    public async Task<MembershipTableData> ReadAllAsync(CancellationToken cancellationToken)
    {
        var rows = await ReadPartitionAsync(_partitionKey, filter: null, cancellationToken).ConfigureAwait(false);
        return ToTableData(rows);
    }

    public Task<MembershipTableData> ReadRow(SiloAddress key) => ReadRowAsync(key, CancellationToken.None);

    public async Task<MembershipTableData> ReadRowAsync(SiloAddress key, CancellationToken cancellationToken)
    {
        var rowKey = SiloRowKey(key);
        var filter = TableClient.CreateQueryFilter(
            $"PartitionKey eq {_partitionKey} and (RowKey eq {rowKey} or RowKey eq {rowKey + SiloInstanceTableEntity.HeartbeatSuffix} or RowKey eq {SiloInstanceTableEntity.VersionRowKey})");
        var rows = await ReadPartitionAsync(_partitionKey, filter, cancellationToken).ConfigureAwait(false);
        return ToTableData(rows);
    }

    public Task<bool> InsertRow(MembershipEntry entry, TableVersion tableVersion) =>
        InsertRowAsync(entry, tableVersion, CancellationToken.None);

    public async Task<bool> InsertRowAsync(MembershipEntry entry, TableVersion tableVersion, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(entry);
        ArgumentNullException.ThrowIfNull(tableVersion);
        var siloRow = ToEntity(entry);
        var actions = new List<TableTransactionAction>
        {
            new(TableTransactionActionType.Add, siloRow),
            new(TableTransactionActionType.UpsertReplace, NewHeartbeatRow(siloRow.RowKey, entry.IAmAliveTime)),
            new(TableTransactionActionType.UpdateReplace, NewVersionRow(tableVersion.Version), ToETag(tableVersion.VersionEtag)),
        };

        var ok = await TrySubmitAsync(actions, cancellationToken).ConfigureAwait(false);
        if (!ok)
        {
            LogInsertContention(entry.SiloAddress, tableVersion.ToString());
        }

        return ok;
    }

    public Task<bool> UpdateRow(MembershipEntry entry, string etag, TableVersion tableVersion) =>
        UpdateRowAsync(entry, etag, tableVersion, CancellationToken.None);

    public async Task<bool> UpdateRowAsync(MembershipEntry entry, string etag, TableVersion tableVersion, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(entry);
        ArgumentNullException.ThrowIfNull(tableVersion);
        var actions = new List<TableTransactionAction>
        {
            // Replace with the caller's ETag: fails if the row is gone or was changed by another UpdateRow.
            new(TableTransactionActionType.UpdateReplace, ToEntity(entry), ToETag(etag)),
            new(TableTransactionActionType.UpdateReplace, NewVersionRow(tableVersion.Version), ToETag(tableVersion.VersionEtag)),
        };

        var ok = await TrySubmitAsync(actions, cancellationToken).ConfigureAwait(false);
        if (!ok)
        {
            LogUpdateContention(entry.SiloAddress, etag, tableVersion.ToString());
        }

        return ok;
    }

    public Task UpdateIAmAlive(MembershipEntry entry) => UpdateIAmAliveAsync(entry, CancellationToken.None);

    public async Task UpdateIAmAliveAsync(MembershipEntry entry, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(entry);

        // Only the heartbeat row changes: the membership row's ETag and the table version stay as they were.
        // If-Match "*" makes this fail when the silo's rows were removed, rather than resurrecting them.
        var heartbeat = NewHeartbeatRow(SiloRowKey(entry.SiloAddress), entry.IAmAliveTime);
        await Table.UpdateEntityAsync(heartbeat, ETag.All, TableUpdateMode.Replace, cancellationToken).ConfigureAwait(false);
    }

    public Task CleanupDefunctSiloEntries(DateTimeOffset beforeDate) =>
        CleanupDefunctSiloEntriesAsync(beforeDate, CancellationToken.None);

    public async Task CleanupDefunctSiloEntriesAsync(DateTimeOffset beforeDate, CancellationToken cancellationToken)
    {
        var rows = await ReadPartitionAsync(_partitionKey, filter: null, cancellationToken).ConfigureAwait(false);
        var heartbeats = rows.Where(r => r.IsHeartbeatRow).ToDictionary(r => r.RowKey, StringComparer.Ordinal);
        var doomed = new List<SiloInstanceTableEntity>();
        foreach (var row in rows)
        {
            if (row.IsVersionRow || row.IsHeartbeatRow || row.Status != nameof(SiloStatus.Dead))
            {
                continue;
            }

            heartbeats.TryGetValue(row.RowKey + SiloInstanceTableEntity.HeartbeatSuffix, out var heartbeat);
            MembershipEntry entry;
            try
            {
                entry = ToMembershipEntry(row, heartbeat);
            }
            catch (Exception exception) when (exception is FormatException or OverflowException or ArgumentException)
            {
                continue;
            }

            if (LastUpdate(entry) < beforeDate.UtcDateTime)
            {
                doomed.Add(row);
                if (heartbeat is not null)
                {
                    doomed.Add(heartbeat);
                }
            }
        }

        // A row changed since we read it keeps its new content: delete with the ETag we saw.
        foreach (var row in doomed)
        {
            await DeleteIgnoringRaceAsync(row, row.ETag, cancellationToken).ConfigureAwait(false);
        }

        if (doomed.Count > 0)
        {
            LogCleanedUp(doomed.Count(r => !r.IsHeartbeatRow), _clusterId, beforeDate);
        }
    }

    public Task DeleteMembershipTableEntries(string clusterId) =>
        DeleteMembershipTableEntriesAsync(clusterId, CancellationToken.None);

    public async Task DeleteMembershipTableEntriesAsync(string clusterId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(clusterId);
        var partitionKey = TableKeyEncoding.Encode(clusterId);
        var rows = await ReadPartitionAsync(partitionKey, filter: null, cancellationToken).ConfigureAwait(false);

        // Entity group transactions take at most 100 actions.
        foreach (var chunk in rows.Chunk(100))
        {
            var actions = chunk.Select(r => new TableTransactionAction(TableTransactionActionType.Delete, r, ETag.All)).ToList();
            try
            {
                await Table.SubmitTransactionAsync(actions, cancellationToken).ConfigureAwait(false);
            }
            catch (TableTransactionFailedException exception) when (exception.Status == (int)HttpStatusCode.NotFound)
            {
                // Someone removed a row meanwhile; delete the rest one by one.
                foreach (var row in chunk)
                {
                    await DeleteIgnoringRaceAsync(row, ETag.All, cancellationToken).ConfigureAwait(false);
                }
            }
        }
    }

    private async Task DeleteIgnoringRaceAsync(SiloInstanceTableEntity row, ETag etag, CancellationToken cancellationToken)
    {
        try
        {
            await Table.DeleteEntityAsync(row.PartitionKey, row.RowKey, etag, cancellationToken).ConfigureAwait(false);
        }
        catch (RequestFailedException exception) when (exception.Status is (int)HttpStatusCode.NotFound or (int)HttpStatusCode.PreconditionFailed)
        {
        }
    }

    private async Task<bool> TrySubmitAsync(List<TableTransactionAction> actions, CancellationToken cancellationToken)
    {
        try
        {
            await Table.SubmitTransactionAsync(actions, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (RequestFailedException exception) when (IsContention(exception))
        {
            return false;
        }
    }

    // 409: the row to insert exists; 412: a stale ETag; 404: the row to update (or the version row) is gone.
    private static bool IsContention(RequestFailedException exception) =>
        exception.Status is (int)HttpStatusCode.Conflict or (int)HttpStatusCode.PreconditionFailed or (int)HttpStatusCode.NotFound;

    private async Task<List<SiloInstanceTableEntity>> ReadPartitionAsync(string partitionKey, string? filter, CancellationToken cancellationToken)
    {
        filter ??= TableClient.CreateQueryFilter($"PartitionKey eq {partitionKey}");
        var rows = new List<SiloInstanceTableEntity>();
        await foreach (var row in Table.QueryAsync<SiloInstanceTableEntity>(filter, cancellationToken: cancellationToken).ConfigureAwait(false))
        {
            rows.Add(row);
        }

        return rows;
    }

    private MembershipTableData ToTableData(List<SiloInstanceTableEntity> rows)
    {
        TableVersion? version = null;
        var heartbeats = new Dictionary<string, SiloInstanceTableEntity>(StringComparer.Ordinal);
        foreach (var row in rows)
        {
            if (row.IsVersionRow)
            {
                version = new TableVersion(row.MembershipVersion ?? 0, row.ETag.ToString());
            }
            else if (row.IsHeartbeatRow)
            {
                heartbeats[row.RowKey] = row;
            }
        }

        if (version is null)
        {
            throw new InvalidOperationException(
                $"The membership table '{_options.TableName}' has no version row for cluster '{_clusterId}'. A silo creates it on start (InitializeMembershipTable(true)).");
        }

        var members = new List<Tuple<MembershipEntry, string>>();
        foreach (var row in rows)
        {
            if (row.IsVersionRow || row.IsHeartbeatRow)
            {
                continue;
            }

            try
            {
                heartbeats.TryGetValue(row.RowKey + SiloInstanceTableEntity.HeartbeatSuffix, out var heartbeat);
                members.Add(Tuple.Create(ToMembershipEntry(row, heartbeat), row.ETag.ToString()));
            }
            catch (Exception exception) when (exception is FormatException or OverflowException or ArgumentException)
            {
                LogUnreadableRow(exception, row.RowKey, _options.TableName);
            }
        }

        return new MembershipTableData(members, version);
    }

    private SiloInstanceTableEntity NewVersionRow(int version) => new()
    {
        PartitionKey = _partitionKey,
        RowKey = SiloInstanceTableEntity.VersionRowKey,
        ClusterId = _clusterId,
        MembershipVersion = version,
    };

    private SiloInstanceTableEntity NewHeartbeatRow(string siloRowKey, DateTime iAmAliveTime) => new()
    {
        PartitionKey = _partitionKey,
        RowKey = siloRowKey + SiloInstanceTableEntity.HeartbeatSuffix,
        ClusterId = _clusterId,
        IAmAliveTime = FormatTime(iAmAliveTime),
    };

    private SiloInstanceTableEntity ToEntity(MembershipEntry entry)
    {
        var suspects = entry.SuspectTimes ?? [];
        return new SiloInstanceTableEntity
        {
            PartitionKey = _partitionKey,
            RowKey = SiloRowKey(entry.SiloAddress),
            ClusterId = _clusterId,
            Address = entry.SiloAddress.Endpoint.Address.ToString(),
            Port = entry.SiloAddress.Endpoint.Port,
            Generation = entry.SiloAddress.Generation,
            HostName = entry.HostName,
            Status = entry.Status.ToString(),
            ProxyPort = entry.ProxyPort,
            RoleName = entry.RoleName,
            SiloName = entry.SiloName,
            UpdateZone = entry.UpdateZone,
            FaultZone = entry.FaultZone,
            SuspectingSilos = string.Join('|', suspects.Select(s => s.Item1.ToParsableString())),
            SuspectingTimes = string.Join('|', suspects.Select(s => FormatTime(s.Item2))),
            StartTime = FormatTime(entry.StartTime),
            IAmAliveTime = FormatTime(entry.IAmAliveTime),
        };
    }

    internal static MembershipEntry ToMembershipEntry(SiloInstanceTableEntity row, SiloInstanceTableEntity? heartbeat)
    {
        var entry = new MembershipEntry
        {
            SiloAddress = SiloAddress.New(IPAddress.Parse(row.Address ?? throw new FormatException("Address is missing")), row.Port, row.Generation),
            Status = Enum.Parse<SiloStatus>(row.Status ?? throw new FormatException("Status is missing")),
            HostName = row.HostName ?? string.Empty,
            ProxyPort = row.ProxyPort,
            RoleName = row.RoleName ?? string.Empty,
            SiloName = row.SiloName ?? string.Empty,
            UpdateZone = row.UpdateZone,
            FaultZone = row.FaultZone,
            StartTime = ParseTime(row.StartTime),
            // The later of what UpdateRow last wrote and the silo's own heartbeat.
            IAmAliveTime = Max(ParseTime(row.IAmAliveTime), ParseTime(heartbeat?.IAmAliveTime)),
        };

        var silos = string.IsNullOrEmpty(row.SuspectingSilos) ? [] : row.SuspectingSilos.Split('|');
        var times = string.IsNullOrEmpty(row.SuspectingTimes) ? [] : row.SuspectingTimes.Split('|');
        if (silos.Length != times.Length)
        {
            throw new FormatException($"{silos.Length} suspecting silos but {times.Length} suspecting times");
        }

        for (var i = 0; i < silos.Length; i++)
        {
            entry.AddSuspector(SiloAddress.FromParsableString(silos[i]), ParseTime(times[i]));
        }

        return entry;
    }

    // The latest time anyone wrote about this silo: its start, its heartbeat, or a suspicion (a death
    // declaration records one), so a silo declared dead recently is kept even if it stopped long ago.
    private static DateTime LastUpdate(MembershipEntry entry)
    {
        var last = Max(entry.StartTime, entry.IAmAliveTime);
        foreach (var suspicion in entry.SuspectTimes ?? [])
        {
            last = Max(last, suspicion.Item2);
        }

        return last;
    }

    private static string SiloRowKey(SiloAddress silo) =>
        TableKeyEncoding.Encode(string.Create(CultureInfo.InvariantCulture, $"{silo.Endpoint.Address}-{silo.Endpoint.Port}-{silo.Generation}"));

    private static ETag ToETag(string? etag) => string.IsNullOrEmpty(etag) ? ETag.All : new ETag(etag);

    private static string FormatTime(DateTime time) => time.ToString("O", CultureInfo.InvariantCulture);

    private static DateTime ParseTime(string? text) => string.IsNullOrEmpty(text)
        ? default
        : DateTime.Parse(text, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind);

    private static DateTime Max(DateTime a, DateTime b) => a >= b ? a : b;

    [LoggerMessage(EventId = 1001, Level = LogLevel.Information, Message = "Created the version row in membership table '{TableName}' for cluster '{ClusterId}'")]
    private partial void LogCreatedVersionRow(string tableName, string clusterId);

    [LoggerMessage(EventId = 1002, Level = LogLevel.Warning, Message = "Inserting membership row for {Silo} lost a race (table version {TableVersion}); Orleans retries")]
    private partial void LogInsertContention(SiloAddress silo, string tableVersion);

    [LoggerMessage(EventId = 1003, Level = LogLevel.Warning, Message = "Updating membership row for {Silo} (ETag {ETag}) lost a race (table version {TableVersion}); Orleans retries")]
    private partial void LogUpdateContention(SiloAddress silo, string etag, string tableVersion);

    [LoggerMessage(EventId = 1004, Level = LogLevel.Information, Message = "Removed {Count} dead silo rows of cluster '{ClusterId}' last updated before {BeforeDate}")]
    private partial void LogCleanedUp(int count, string clusterId, DateTimeOffset beforeDate);

    [LoggerMessage(EventId = 1005, Level = LogLevel.Error, Message = "Ignoring unreadable membership row '{RowKey}' in table '{TableName}'")]
    private partial void LogUnreadableRow(Exception exception, string rowKey, string tableName);
}
