using System.Globalization;
using System.Text;

namespace Fabric.Testing;

/// <summary>Which stream of a process a line came from.</summary>
public enum OutputStream
{
    /// <summary>Standard output.</summary>
    Out,

    /// <summary>Standard error.</summary>
    Error,
}

/// <summary>
/// Lines of output kept in memory for assertions and failure messages: thread-safe, bounded (when
/// full, the oldest half goes), optionally stamped with the time each line arrived and the name of
/// the process that wrote it. One log may be shared by several processes (a fixture's whole fabric).
/// </summary>
public sealed class OutputLog
{
    private readonly Lock _gate = new();
    private readonly List<(string Text, OutputStream Stream)> _lines = [];
    private readonly List<(Func<string, bool> Match, TaskCompletionSource<string> Done)> _waiters = [];
    private readonly int _maxChars;
    private readonly bool _timestamps;
    private long _chars;

    /// <param name="maxChars">How many characters to keep at most. Defaults to 1 Mi characters.</param>
    /// <param name="timestamps">Whether each line starts with the UTC time it arrived (<c>HH:mm:ss.fff</c>).</param>
    public OutputLog(int maxChars = 1 << 20, bool timestamps = false)
    {
        _maxChars = maxChars;
        _timestamps = timestamps;
    }

    /// <summary>Adds one line, as <c>[time ][source: ]text</c>, and wakes the waiters it matches.</summary>
    public void Add(string text, string? source = null, OutputStream stream = OutputStream.Out)
    {
        string line = (_timestamps ? DateTime.UtcNow.ToString("HH:mm:ss.fff ", CultureInfo.InvariantCulture) : string.Empty)
            + (source is null ? string.Empty : source + ": ")
            + text;
        lock (_gate)
        {
            _lines.Add((line, stream));
            _chars += line.Length + 1;
            if (_chars > _maxChars)
            {
                int drop = 0;
                long dropped = 0;
                while (drop < _lines.Count - 1 && _chars - dropped > _maxChars / 2)
                {
                    dropped += _lines[drop++].Text.Length + 1;
                }

                _lines.RemoveRange(0, drop);
                _chars -= dropped;
            }

            for (int i = _waiters.Count - 1; i >= 0; i--)
            {
                if (_waiters[i].Match(line))
                {
                    _waiters[i].Done.TrySetResult(line);
                    _waiters.RemoveAt(i);
                }
            }
        }
    }

    /// <summary>Every line kept, each ending with a newline.</summary>
    public string Text => Join(_ => true);

    /// <summary>The lines kept of one stream, each ending with a newline.</summary>
    public string TextOf(OutputStream stream) => Join(l => l.Stream == stream);

    /// <summary>The last <paramref name="lines"/> lines, for a failure message.</summary>
    public string Tail(int lines = 40)
    {
        lock (_gate)
        {
            return string.Join('\n', _lines.Skip(Math.Max(0, _lines.Count - lines)).Select(l => l.Text));
        }
    }

    /// <summary>Whether a line kept contains <paramref name="text"/> (ordinal).</summary>
    public bool Contains(string text)
    {
        lock (_gate)
        {
            return _lines.Exists(l => l.Text.Contains(text, StringComparison.Ordinal));
        }
    }

    /// <summary>
    /// Completes with the first line that matches <paramref name="match"/>: one already kept when
    /// <paramref name="includeKept"/>, else only one added from now on. Bounded only by
    /// <paramref name="cancellationToken"/>.
    /// </summary>
    public async Task<string> NextLineAsync(Func<string, bool> match, bool includeKept = true, CancellationToken cancellationToken = default)
    {
        var done = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var waiter = (match, done);
        lock (_gate)
        {
            if (includeKept && _lines.FirstOrDefault(l => match(l.Text)).Text is { } kept)
            {
                return kept;
            }

            _waiters.Add(waiter);
        }

        using var registration = cancellationToken.Register(() =>
        {
            lock (_gate)
            {
                _waiters.Remove(waiter);
            }

            done.TrySetCanceled(cancellationToken);
        });
        return await done.Task;
    }

    /// <inheritdoc/>
    public override string ToString() => Text;

    private string Join(Func<(string Text, OutputStream Stream), bool> keep)
    {
        var text = new StringBuilder();
        lock (_gate)
        {
            foreach (var line in _lines.Where(keep))
            {
                text.Append(line.Text).Append('\n');
            }
        }

        return text.ToString();
    }
}
