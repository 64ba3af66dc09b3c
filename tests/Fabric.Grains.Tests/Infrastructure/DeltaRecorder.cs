using Fabric.Grains;

namespace Fabric.Grains.Tests.Infrastructure;

/// <summary>Collects pushed deltas and lets a test wait for one that matches, with a bound instead of a sleep.</summary>
public sealed class DeltaRecorder<T>
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(20);

    private readonly Lock _gate = new();
    private readonly List<T> _items = [];
    private readonly List<(Func<T, bool> Match, TaskCompletionSource<T> Done)> _waiters = [];

    public IReadOnlyList<T> Items
    {
        get
        {
            lock (_gate)
            {
                return [.. _items];
            }
        }
    }

    public void Add(T item)
    {
        lock (_gate)
        {
            _items.Add(item);
            for (int i = _waiters.Count - 1; i >= 0; i--)
            {
                if (_waiters[i].Match(item))
                {
                    _waiters[i].Done.TrySetResult(item);
                    _waiters.RemoveAt(i);
                }
            }
        }
    }

    public Task<T> WaitForAsync(Func<T, bool> match, TimeSpan? timeout = null)
    {
        var done = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_gate)
        {
            var seen = _items.FirstOrDefault(match);
            if (seen is not null)
            {
                return Task.FromResult(seen);
            }

            _waiters.Add((match, done));
        }

        return done.Task.WaitAsync(timeout ?? DefaultTimeout);
    }
}

/// <summary>A client-side observer. The test must hold it (and its reference) strongly: Orleans holds client observers weakly.</summary>
public sealed class SegmentRecorder : ISegmentObserver
{
    public DeltaRecorder<SegmentDelta> Deltas { get; } = new();

    public void OnSegmentChanged(SegmentDelta delta) => Deltas.Add(delta);
}

public sealed class MacTableRecorder : IMacTableObserver
{
    public DeltaRecorder<MacTableDelta> Deltas { get; } = new();

    public void OnMacTableChanged(MacTableDelta delta) => Deltas.Add(delta);
}
