using System.Diagnostics;

namespace Fabric.Testing;

/// <summary>
/// Bounded polling for state that settles by itself (a status file rewritten every second, soft
/// state behind an API, a process coming up): the condition is read again until it holds or the
/// bound passes. A timeout names what was awaited, the last value read and the last error. A read
/// that throws <see cref="WaitAbortedException"/> ends the wait at once (the process it waits on exited).
/// </summary>
public static class Eventually
{
    /// <summary>The pause between two reads unless a caller asks for another. 200 ms.</summary>
    public static readonly TimeSpan DefaultInterval = TimeSpan.FromMilliseconds(200);

    /// <summary>Waits until <paramref name="condition"/> is true; an exception it throws counts as false, and the last one is reported if time runs out.</summary>
    /// <exception cref="TimeoutException">The condition did not hold within <paramref name="timeout"/>.</exception>
    public static Task WaitAsync(Func<Task<bool>> condition, TimeSpan timeout, string what, TimeSpan? interval = null)
        => ValueAsync(condition, held => held, timeout, what, interval);

    /// <inheritdoc cref="WaitAsync(Func{Task{bool}}, TimeSpan, string, TimeSpan?)"/>
    public static Task WaitAsync(Func<bool> condition, TimeSpan timeout, string what, TimeSpan? interval = null)
        => ValueAsync(() => Task.FromResult(condition()), held => held, timeout, what, interval);

    /// <summary>Reads until <paramref name="accept"/> takes the value read, and returns that value.</summary>
    /// <param name="onError">Told of every exception a read throws (they are retried).</param>
    /// <exception cref="TimeoutException">No value was accepted within <paramref name="timeout"/>; the message has the last one.</exception>
    public static async Task<T> ValueAsync<T>(Func<Task<T>> read, Func<T, bool> accept, TimeSpan timeout, string what, TimeSpan? interval = null, Action<Exception>? onError = null)
    {
        var (value, accepted, last, error) = await PollAsync(read, accept, timeout, interval, onError);
        if (accepted)
        {
            return value!;
        }

        string lastValue = last && value is not bool ? $" (last value: {Describe(value)})" : string.Empty;
        throw new TimeoutException($"timed out after {timeout.TotalSeconds} s waiting for: {what}{lastValue}" + (error is null ? string.Empty : $" (last error: {error.Message})"), error);
    }

    /// <summary>
    /// Reads until <paramref name="done"/> takes the value read or <paramref name="timeout"/> passes,
    /// and returns the last value read either way: for a test whose assertions judge that value
    /// (running out of time is not itself the failure). Throws only if no read ever succeeded.
    /// </summary>
    public static async Task<T> UntilAsync<T>(Func<Task<T>> read, Func<T, bool> done, TimeSpan timeout, TimeSpan? interval = null)
    {
        var (value, _, any, error) = await PollAsync(read, done, timeout, interval, null);
        return any ? value! : throw new TimeoutException($"no successful read within {timeout.TotalSeconds} s: {error?.Message}", error);
    }

    /// <summary>
    /// Runs <paramref name="assertion"/> until it passes. When time runs out, fails with what was
    /// awaited and the last failure (kept as the inner exception): the assertion itself is never
    /// weakened, only given time.
    /// </summary>
    public static async Task AssertAsync(Func<Task> assertion, TimeSpan timeout, string what, TimeSpan? interval = null)
    {
        var (_, passed, _, error) = await PollAsync(async () => { await assertion(); return true; }, ok => ok, timeout, interval, null);
        if (!passed)
        {
            throw new TimeoutException($"timed out after {timeout.TotalSeconds} s waiting for: {what}\nlast failure: {error?.Message}", error);
        }
    }

    private static async Task<(T? Value, bool Accepted, bool Any, Exception? Error)> PollAsync<T>(
        Func<Task<T>> read, Func<T, bool> accept, TimeSpan timeout, TimeSpan? interval, Action<Exception>? onError)
    {
        var clock = Stopwatch.StartNew();
        T? value = default;
        bool any = false;
        Exception? error = null;
        while (true)
        {
            try
            {
                value = await read();
                any = true;
                if (accept(value))
                {
                    return (value, true, true, null);
                }
            }
            catch (Exception ex) when (ex is not WaitAbortedException)
            {
                error = ex;
                onError?.Invoke(ex);
            }

            if (clock.Elapsed >= timeout)
            {
                return (value, false, any, error);
            }

            var left = timeout - clock.Elapsed;
            var pause = interval ?? DefaultInterval;
            await Task.Delay(pause < left ? pause : left > TimeSpan.Zero ? left : TimeSpan.Zero);
        }
    }

    private static string Describe<T>(T? value)
    {
        string text = value?.ToString() ?? "null";
        return text.Length > 500 ? text[..500] + "…" : text;
    }
}

/// <summary>Thrown by a condition of <see cref="Eventually"/> to stop waiting at once: what it waits for can no longer happen.</summary>
public sealed class WaitAbortedException(string message) : Exception(message);
