using System.Globalization;
using Azure.Data.Tables;

namespace Fabric.Providers.AzureTables;

/// <summary>
/// Layout of one grain's state in its provider's table: PartitionKey = encoded "serviceId/grainId",
/// RowKey = encoded state name, and the serialized state split across binary properties
/// Data0, Data1, ... of at most 64 KiB each (Table storage's limit for one binary property).
/// </summary>
internal static class GrainStateTableEntity
{
    /// <summary>Table storage's limit for one binary property.</summary>
    public const int ChunkSize = 64 * 1024;

    /// <summary>
    /// 15 chunks (960 KiB) leave room within the 1 MiB entity limit for keys of up to 512 characters
    /// each, the grain id property (≤ 16 Ki characters) and the bookkeeping properties.
    /// </summary>
    public const int MaxChunks = 15;

    public const long MaxStateSize = (long)ChunkSize * MaxChunks;

    /// <summary>Grain ids longer than this are not copied into the row (the keys still identify it).</summary>
    public const int MaxStoredGrainIdLength = 16 * 1024;

    private const string DataPrefix = "Data";
    private const string DataLengthProperty = "DataLength";
    private const string DataChunksProperty = "DataChunks";
    private const string GrainIdProperty = "GrainId";
    private const string StateNameProperty = "StateName";

    public static string PartitionKey(string serviceId, string grainId) => TableKeyEncoding.Encode(serviceId + "/" + grainId);

    public static string RowKey(string stateName) => TableKeyEncoding.Encode(stateName);

    public static TableEntity Create(string partitionKey, string rowKey, string grainId, string stateName, ReadOnlyMemory<byte> data)
    {
        var entity = new TableEntity(partitionKey, rowKey)
        {
            [StateNameProperty] = stateName,
            [DataLengthProperty] = (long)data.Length,
        };

        if (grainId.Length <= MaxStoredGrainIdLength)
        {
            entity[GrainIdProperty] = grainId;
        }

        var chunks = 0;
        for (var offset = 0; offset < data.Length; offset += ChunkSize)
        {
            var length = Math.Min(ChunkSize, data.Length - offset);
            entity[ChunkName(chunks++)] = data.Slice(offset, length).ToArray();
        }

        entity[DataChunksProperty] = chunks;
        return entity;
    }

    /// <summary>The grain id stored in the row, if it was short enough to store.</summary>
    public static string? StoredGrainId(TableEntity entity) => entity.GetString(GrainIdProperty);

    /// <summary>Reassembles the serialized state; throws if a chunk is missing or the length disagrees.</summary>
    public static byte[] ReadData(TableEntity entity)
    {
        var chunks = entity.GetInt32(DataChunksProperty) ?? 0;
        var length = entity.GetInt64(DataLengthProperty) ?? 0;
        if (chunks < 0 || chunks > MaxChunks || length < 0 || length > MaxStateSize)
        {
            throw new InvalidDataException($"Row {entity.PartitionKey}/{entity.RowKey} claims {chunks} chunks, {length} bytes.");
        }

        var data = new byte[length];
        var offset = 0;
        for (var i = 0; i < chunks; i++)
        {
            var chunk = entity.GetBinary(ChunkName(i))
                ?? throw new InvalidDataException($"Row {entity.PartitionKey}/{entity.RowKey} is missing property {ChunkName(i)}.");
            if (offset + chunk.Length > data.Length)
            {
                throw new InvalidDataException($"Row {entity.PartitionKey}/{entity.RowKey} holds more data than its DataLength {length}.");
            }

            chunk.CopyTo(data, offset);
            offset += chunk.Length;
        }

        if (offset != data.Length)
        {
            throw new InvalidDataException($"Row {entity.PartitionKey}/{entity.RowKey} holds {offset} bytes, DataLength says {length}.");
        }

        return data;
    }

    private static string ChunkName(int index) => DataPrefix + index.ToString(CultureInfo.InvariantCulture);
}
