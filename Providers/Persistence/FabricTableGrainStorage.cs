using System.Net;
using Azure;
using Azure.Data.Tables;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans;
using Orleans.Configuration;
using Orleans.Runtime;
using Orleans.Serialization.Serializers;
using Orleans.Storage;

namespace Fabric.Providers.AzureTables;

/// <summary>
/// Grain storage on Azure Table storage: one table per provider, one row per grain and state name,
/// ETag optimistic concurrency (a write or clear with a stale ETag raises
/// <see cref="InconsistentStateException"/> and changes nothing).
/// </summary>
public sealed partial class FabricTableGrainStorage : IGrainStorage, ILifecycleParticipant<ISiloLifecycle>
{
    private readonly string _name;
    private readonly FabricTableStorageOptions _options;
    private readonly string _serviceId;
    private readonly string _tableName;
    private readonly IActivatorProvider _activatorProvider;
    private readonly ILogger _logger;
    private TableClient? _table;

    public FabricTableGrainStorage(
        string name,
        FabricTableStorageOptions options,
        IOptions<ClusterOptions> clusterOptions,
        IActivatorProvider activatorProvider,
        ILogger<FabricTableGrainStorage> logger)
    {
        _name = name;
        _options = options;
        _serviceId = clusterOptions.Value.ServiceId;
        _tableName = options.TableName ?? FabricTableStorageOptions.DeriveTableName(name);
        _activatorProvider = activatorProvider;
        _logger = logger;
    }

    /// <summary>The table this provider writes to.</summary>
    public string TableName => _tableName;

    internal static FabricTableGrainStorage Create(IServiceProvider services, string name) =>
        ActivatorUtilities.CreateInstance<FabricTableGrainStorage>(
            services,
            name,
            services.GetRequiredService<IOptionsMonitor<FabricTableStorageOptions>>().Get(name));

    public void Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe(OptionFormattingUtilities.Name<FabricTableGrainStorage>(_name), ServiceLifecycleStage.ApplicationServices, InitializeAsync);

    /// <summary>Creates the table if needed; fails fast with <see cref="FabricStorageUnavailableException"/>.</summary>
    public async Task InitializeAsync(CancellationToken cancellationToken)
    {
        _table = await FabricTableClients.CreateTableIfNotExistsAsync(_options, _tableName, cancellationToken).ConfigureAwait(false);
    }

    private TableClient Table => _table ?? throw new InvalidOperationException(
        $"Grain storage '{_name}' is used before it was initialized (silo lifecycle stage ApplicationServices).");

    public async Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        var (partitionKey, rowKey) = Keys(stateName, grainId);
        var response = await Table.GetEntityIfExistsAsync<TableEntity>(partitionKey, rowKey).ConfigureAwait(false);
        if (!response.HasValue || response.Value is not { } entity)
        {
            grainState.State = CreateInstance<T>();
            grainState.RecordExists = false;
            grainState.ETag = null;
            return;
        }

        var grainIdText = grainId.ToString();
        if (GrainStateTableEntity.StoredGrainId(entity) is { } storedId && storedId != grainIdText)
        {
            throw new InvalidDataException(
                $"Grain storage '{_name}': row {partitionKey}/{rowKey} in table '{_tableName}' belongs to grain '{storedId}', not '{grainIdText}'.");
        }

        var data = GrainStateTableEntity.ReadData(entity);
        grainState.State = data.Length == 0
            ? CreateInstance<T>()
            : _options.GrainStorageSerializer.Deserialize<T>(new BinaryData(data));
        grainState.RecordExists = true;
        grainState.ETag = entity.ETag.ToString();
    }

    public async Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        var (partitionKey, rowKey) = Keys(stateName, grainId);
        var grainIdText = grainId.ToString();
        var data = _options.GrainStorageSerializer.Serialize(grainState.State).ToMemory();
        if (data.Length > GrainStateTableEntity.MaxStateSize)
        {
            LogStateTooLarge(grainIdText, stateName, data.Length);
            throw new FabricGrainStateTooLargeException(grainIdText, stateName, _name, data.Length, GrainStateTableEntity.MaxStateSize);
        }

        var entity = GrainStateTableEntity.Create(partitionKey, rowKey, grainIdText, stateName, data);
        try
        {
            // No ETag: the grain believes there is no row, so insist on creating one.
            var response = grainState.ETag is null
                ? await Table.AddEntityAsync(entity).ConfigureAwait(false)
                : await Table.UpdateEntityAsync(entity, new ETag(grainState.ETag), TableUpdateMode.Replace).ConfigureAwait(false);
            grainState.ETag = response.Headers.ETag?.ToString();
            grainState.RecordExists = true;
        }
        catch (RequestFailedException exception) when (IsConcurrencyConflict(exception))
        {
            throw Inconsistent("write", stateName, grainId, grainState.ETag, exception);
        }
    }

    public async Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        var (partitionKey, rowKey) = Keys(stateName, grainId);
        try
        {
            if (grainState.ETag is null)
            {
                // The grain saw no row. Clearing nothing is fine; clearing a row someone else wrote is a conflict.
                var existing = await Table.GetEntityIfExistsAsync<TableEntity>(partitionKey, rowKey, select: ["PartitionKey"]).ConfigureAwait(false);
                if (existing.HasValue)
                {
                    throw Inconsistent("clear", stateName, grainId, null, innerException: null);
                }
            }
            else
            {
                await Table.DeleteEntityAsync(partitionKey, rowKey, new ETag(grainState.ETag)).ConfigureAwait(false);
            }
        }
        catch (RequestFailedException exception) when (IsConcurrencyConflict(exception))
        {
            throw Inconsistent("clear", stateName, grainId, grainState.ETag, exception);
        }

        // Orleans semantics after a clear: no record, no ETag, a fresh default state.
        grainState.State = CreateInstance<T>();
        grainState.RecordExists = false;
        grainState.ETag = null;
    }

    private (string PartitionKey, string RowKey) Keys(string stateName, GrainId grainId) =>
        (GrainStateTableEntity.PartitionKey(_serviceId, grainId.ToString()), GrainStateTableEntity.RowKey(stateName));

    // 409: a row exists where the grain expected none; 412: the ETag is stale; 404: the row was removed.
    private static bool IsConcurrencyConflict(RequestFailedException exception) =>
        exception.Status is (int)HttpStatusCode.Conflict or (int)HttpStatusCode.PreconditionFailed or (int)HttpStatusCode.NotFound;

    private InconsistentStateException Inconsistent(string operation, string stateName, GrainId grainId, string? etag, Exception? innerException)
    {
        LogConflict(operation, grainId.ToString(), stateName, etag ?? "(none)");
        return new InconsistentStateException(
            $"Grain storage '{_name}': {operation} of state '{stateName}' for grain '{grainId}' in table '{_tableName}' was rejected: " +
            $"the stored record changed since it was read (ETag {etag ?? "(none)"}). Nothing was changed.",
            storedEtag: "Unknown",
            currentEtag: etag ?? string.Empty,
            innerException!);
    }

    private T CreateInstance<T>() => _activatorProvider.GetActivator<T>().Create();

    [LoggerMessage(EventId = 1201, Level = LogLevel.Warning, Message = "Grain storage: {Operation} of grain {GrainId} state {StateName} conflicted (ETag {ETag})")]
    private partial void LogConflict(string operation, string grainId, string stateName, string etag);

    [LoggerMessage(EventId = 1202, Level = LogLevel.Error, Message = "Grain storage: state {StateName} of grain {GrainId} is {Size} bytes, too large for one table entity")]
    private partial void LogStateTooLarge(string grainId, string stateName, int size);
}
