using System.Collections.Concurrent;
using System.Globalization;
using Orleans.Serialization;
using Orleans.Storage;

namespace Fabric.Grains.Tests.Infrastructure;

/// <summary>
/// Grain storage that outlives silos: one static dictionary for the whole test process, so a grain
/// re-activated on another silo after its silo is killed reads what the dead one wrote. State is
/// kept serialized (never a shared object) and guarded by ETags like a real store.
/// </summary>
public sealed class SharedGrainStorage(Serializer serializer) : IGrainStorage
{
    private static readonly ConcurrentDictionary<string, (byte[] Data, string ETag)> Store = new();
    private static long s_etag;

    public Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        if (Store.TryGetValue(Key(stateName, grainId), out var stored))
        {
            grainState.State = serializer.Deserialize<T>(stored.Data);
            grainState.ETag = stored.ETag;
            grainState.RecordExists = true;
        }

        return Task.CompletedTask;
    }

    public Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        string key = Key(stateName, grainId);
        string etag = NextETag();
        byte[] data = serializer.SerializeToArray(grainState.State);
        bool written = grainState.ETag is null
            ? Store.TryAdd(key, (data, etag))
            : Store.TryGetValue(key, out var current) && current.ETag == grainState.ETag && Store.TryUpdate(key, (data, etag), current);
        if (!written)
        {
            throw new InconsistentStateException($"ETag mismatch writing {key}.", Store.TryGetValue(key, out var now) ? now.ETag : "none", grainState.ETag ?? "none");
        }

        grainState.ETag = etag;
        grainState.RecordExists = true;
        return Task.CompletedTask;
    }

    public Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        Store.TryRemove(Key(stateName, grainId), out _);
        grainState.State = Activator.CreateInstance<T>();
        grainState.ETag = null;
        grainState.RecordExists = false;
        return Task.CompletedTask;
    }

    private static string Key(string stateName, GrainId grainId) => $"{stateName}/{grainId}";

    private static string NextETag() => Interlocked.Increment(ref s_etag).ToString(CultureInfo.InvariantCulture);
}
