using Fabric.HostAgent.Configuration;

namespace Fabric.HostAgent.Control;

/// <summary>How every control service waits on the cluster.</summary>
internal static class ClusterCalls
{
    /// <summary>
    /// Waits at most <see cref="AgentOptions.CallTimeout"/> for <paramref name="call"/>, then gives up
    /// with <see cref="TimeoutException"/> so a call stuck on a silo that just died holds up neither
    /// heartbeats nor re-syncs. The call itself keeps Orleans' own response timeout: a silo that is
    /// slow while it starts still gets to answer the retries, instead of every message expiring in
    /// its queue.
    /// </summary>
    public static Task<T> Bounded<T>(this Task<T> call, AgentOptions options, TimeProvider time) => call.WaitAsync(options.CallTimeout, time);

    /// <inheritdoc cref="Bounded{T}(Task{T}, AgentOptions, TimeProvider)"/>
    public static Task Bounded(this Task call, AgentOptions options, TimeProvider time) => call.WaitAsync(options.CallTimeout, time);

    /// <summary>The first line of an exception message, for a one-line log.</summary>
    public static string FirstLine(string message) => message.Split('\n', 2)[0].Trim();
}
