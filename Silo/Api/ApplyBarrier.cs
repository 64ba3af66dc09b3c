using System.Globalization;
using System.Text.RegularExpressions;
using Fabric.Grains;

namespace Fabric.Silo.Api;

/// <summary>
/// The convergence barrier of the management API's writes (OVN's <c>ovn-nbctl --wait=hv</c>):
/// with <c>?wait=applied&amp;timeout=10s</c> a write answers once every live host on the switch
/// reports (<see cref="HostInfo.AppliedGeneration"/>) that it applied the switch's configuration
/// generation after the write, or, for an operator's port request, once the host's agent reported
/// the request attached or failed; otherwise 504 (<see cref="ApplyTimeoutException"/>) naming the
/// hosts that have not. Without <c>wait</c> nothing changes. docs/architecture.md "Generations".
/// </summary>
/// <remarks>
/// <para>
/// Use in an endpoint: call <see cref="Requested"/> before the write (a bad <c>wait</c> or
/// <c>timeout</c> is refused before anything changes), then <see cref="SwitchAppliedAsync"/> with the
/// version the write returned. Or add <see cref="WithApplyBarrier"/> to a route of switch
/// configuration (one line; it reads the switch's version after the write). A write whose effect
/// hosts do not report calls <see cref="NotAvailable"/> instead.
/// </para>
/// <para>
/// It waits without polling: one <see cref="IHostGrain.WaitForGenerationAsync"/> call per host
/// still behind, which the host grain answers when the heartbeat that reports the generation
/// arrives (or the host dies, leaves the switch, or the call's bound passes, then it asks again).
/// </para>
/// </remarks>
public static partial class ApplyBarrier
{
    /// <summary>The timeout when <c>wait=applied</c> comes without one: 10 s.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(10);

    /// <summary>The longest timeout accepted: 60 s.</summary>
    public static readonly TimeSpan MaxTimeout = TimeSpan.FromSeconds(60);

    private const string ItemKey = "fabric.apply-wait";
    private const string DoneKey = "fabric.apply-wait.done";

    /// <summary>
    /// Reads <c>wait</c> and <c>timeout</c> from the query: null without <c>wait</c>, else the
    /// timeout to wait (default <see cref="DefaultTimeout"/>). Call it before the write.
    /// </summary>
    /// <param name="http">The request.</param>
    /// <returns>The timeout when <c>wait=applied</c> was asked for; null otherwise.</returns>
    /// <exception cref="FabricValidationException">
    /// Field <c>wait</c>: given more than once or not <c>applied</c>; field <c>timeout</c>: given
    /// without <c>wait</c>, more than once, not a duration (<c>10s</c>, <c>500ms</c>, <c>1m</c>; a
    /// bare number is seconds), zero, or longer than <see cref="MaxTimeout"/>.
    /// </exception>
    public static TimeSpan? Requested(HttpContext http)
    {
        ArgumentNullException.ThrowIfNull(http);
        if (http.Items.TryGetValue(ItemKey, out var parsed))
        {
            return (TimeSpan?)parsed;
        }

        var query = http.Request.Query;
        TimeSpan? result = null;
        if (query.TryGetValue("wait", out var wait))
        {
            if (wait.Count != 1 || wait[0] != "applied")
            {
                throw new FabricValidationException("wait", $"wait '{wait}' is not supported; the only value is wait=applied (answer once every live host applied the change).");
            }

            result = DefaultTimeout;
        }

        if (query.TryGetValue("timeout", out var timeout))
        {
            if (result is null)
            {
                throw new FabricValidationException("timeout", "timeout applies only with wait=applied, e.g. ?wait=applied&timeout=10s.");
            }

            result = timeout.Count == 1 ? ParseTimeout(timeout[0]) : throw new FabricValidationException("timeout", "timeout is given more than once.");
        }

        http.Items[ItemKey] = result;
        return result;
    }

    /// <summary>
    /// For writes that hosts do not report applying (segment writes, IPAM): refuses
    /// <c>wait=applied</c> with 400 naming <c>wait</c>, before anything changes.
    /// </summary>
    /// <param name="http">The request.</param>
    /// <param name="why">Why there is nothing to wait for, as a sentence.</param>
    /// <exception cref="FabricValidationException">Field <c>wait</c> (or <c>timeout</c>) when the query has one.</exception>
    public static void NotAvailable(HttpContext http, string why)
    {
        ArgumentNullException.ThrowIfNull(http);
        if (http.Request.Query.ContainsKey("wait") || http.Request.Query.ContainsKey("timeout"))
        {
            throw new FabricValidationException("wait", $"wait=applied is not available for this write: {why}");
        }
    }

    /// <summary>
    /// When the request asked for it (<see cref="Requested"/>), waits until every live host on
    /// <paramref name="switchName"/> has applied <paramref name="generation"/>; returns at once otherwise.
    /// Hosts declared dead, unregistered or moved to another switch meanwhile are not waited for.
    /// </summary>
    /// <param name="http">The request (its query and its abort token).</param>
    /// <param name="grains">The grain factory.</param>
    /// <param name="switchName">The switch written.</param>
    /// <param name="generation">Its <see cref="SwitchConfig.Version"/> after the write.</param>
    /// <returns>A task that completes when applied everywhere.</returns>
    /// <exception cref="ApplyTimeoutException">The timeout passed with hosts still behind (answered 504).</exception>
    public static async Task SwitchAppliedAsync(HttpContext http, IGrainFactory grains, string switchName, long generation)
    {
        ArgumentNullException.ThrowIfNull(grains);
        if (Requested(http) is not { } timeout)
        {
            return;
        }

        http.Items[DoneKey] = true;
        long start = TimeProvider.System.GetTimestamp();
        var ct = http.RequestAborted;
        var ids = await grains.GetGrain<IFabricDirectoryGrain>(IFabricDirectoryGrain.Key).ListHostsAsync();
        var hosts = await Task.WhenAll(ids.Select(id => grains.GetGrain<IHostGrain>(id).GetAsync()));
        var behind = hosts.Where(h => h is not null && Behind(h, switchName, generation)).Select(h => h!).ToList();
        while (behind.Count != 0)
        {
            var left = timeout - TimeProvider.System.GetElapsedTime(start);
            if (left <= TimeSpan.Zero)
            {
                break;
            }

            var answers = await Task.WhenAll(behind.Select(h => WaitForHostAsync(grains, h, switchName, generation, left, ct)));
            behind = [.. answers.Where(h => Behind(h, switchName, generation))];
        }

        if (behind.Count != 0)
        {
            string who = string.Join(", ", behind.OrderBy(h => h.Id, StringComparer.Ordinal).Select(h => $"{h.Id} (applied {h.AppliedGeneration})"));
            throw new ApplyTimeoutException(
                $"Switch '{switchName}' generation {generation} is stored, but not every live host applied it within {Format(timeout)}: {who}. They apply it when their agents next synchronize.",
                [.. behind.Select(h => h.Id).Order(StringComparer.Ordinal)]);
        }
    }

    /// <summary>
    /// When the request asked for it, waits until host <paramref name="hostId"/>'s agent reported on
    /// the port requests of <paramref name="version"/> (each attached or failed, with the reason).
    /// </summary>
    /// <param name="http">The request.</param>
    /// <param name="grains">The grain factory.</param>
    /// <param name="hostId">The host.</param>
    /// <param name="version">The <see cref="PortRequests.Version"/> after the write.</param>
    /// <returns>The requests as reported; null when the request did not ask to wait.</returns>
    /// <exception cref="ApplyTimeoutException">The timeout passed without a report (answered 504 naming the host).</exception>
    public static async Task<PortRequests?> PortRequestsReportedAsync(HttpContext http, IGrainFactory grains, string hostId, long version)
    {
        ArgumentNullException.ThrowIfNull(grains);
        if (Requested(http) is not { } timeout)
        {
            return null;
        }

        http.Items[DoneKey] = true;
        long start = TimeProvider.System.GetTimestamp();
        var host = grains.GetGrain<IHostGrain>(hostId);
        while (true)
        {
            var left = timeout - TimeProvider.System.GetElapsedTime(start);
            PortRequests requests;
            try
            {
                requests = await host.WaitForPortReportAsync(version, left).WaitAsync(http.RequestAborted);
            }
            catch (Exception ex) when (IsTransient(ex) && !http.RequestAborted.IsCancellationRequested)
            {
                await PauseAsync(left, http.RequestAborted);
                continue;
            }

            if (requests.ReportedVersion >= version)
            {
                return requests;
            }

            if (timeout - TimeProvider.System.GetElapsedTime(start) <= TimeSpan.Zero)
            {
                var info = await host.GetAsync();
                string state = info is null ? "is not registered" : info.Alive ? "is alive but its agent did not report" : "is declared dead";
                throw new ApplyTimeoutException(
                    $"Port requests version {version} of host '{hostId}' are stored, but within {Format(timeout)} its agent did not report them attached or failed: the host {state}.",
                    [hostId]);
            }
        }
    }

    /// <summary>
    /// Adds the barrier to a write of switch configuration whose route names the switch in
    /// <paramref name="switchRouteValue"/> (e.g. <c>PUT /api/switches/{switch}/mirrors/{name}</c>):
    /// <c>wait</c> and <c>timeout</c> are checked before the handler runs; after a successful
    /// handler the switch's version is read (at least the write's) and awaited on every live host.
    /// A handler that waited itself (<see cref="SwitchAppliedAsync"/>) is not waited for twice.
    /// </summary>
    /// <param name="builder">The route.</param>
    /// <param name="switchRouteValue">The route value holding the switch name.</param>
    /// <returns><paramref name="builder"/>, for chaining.</returns>
    public static RouteHandlerBuilder WithApplyBarrier(this RouteHandlerBuilder builder, string switchRouteValue = "switch")
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.AddEndpointFilter(async (context, next) =>
        {
            var http = context.HttpContext;
            bool wait = Requested(http) is not null;
            var result = await next(context);
            if (wait && !http.Items.ContainsKey(DoneKey)
                && result is not IStatusCodeHttpResult { StatusCode: >= 400 }
                && http.GetRouteValue(switchRouteValue) is string switchName)
            {
                var grains = http.RequestServices.GetRequiredService<IGrainFactory>();
                if (await grains.GetGrain<ISwitchGrain>(switchName).GetAsync() is { } config)
                {
                    await SwitchAppliedAsync(http, grains, switchName, config.Version);
                }
            }

            return result;
        });
    }

    private static bool Behind(HostInfo host, string switchName, long generation)
        => host.Alive && host.Switch == switchName && host.AppliedGeneration < generation;

    /// <summary>One host's wait; a failed call (a silo going away) counts as "still behind" after a short pause, and is asked again.</summary>
    private static async Task<HostInfo> WaitForHostAsync(IGrainFactory grains, HostInfo host, string switchName, long generation, TimeSpan left, CancellationToken ct)
    {
        try
        {
            // Unregistered meanwhile: nothing to wait for (a dead copy of it drops it from the set).
            return await grains.GetGrain<IHostGrain>(host.Id).WaitForGenerationAsync(switchName, generation, left).WaitAsync(ct)
                ?? host with { Alive = false };
        }
        catch (Exception ex) when (IsTransient(ex) && !ct.IsCancellationRequested)
        {
            await PauseAsync(left, ct);
            return host;
        }
    }

    private static bool IsTransient(Exception ex) => ex is TimeoutException or SiloUnavailableException or OrleansMessageRejectionException;

    private static Task PauseAsync(TimeSpan left, CancellationToken ct)
        => Task.Delay(left < TimeSpan.FromMilliseconds(100) ? left : TimeSpan.FromMilliseconds(100), ct);

    private static TimeSpan ParseTimeout(string? text)
    {
        var match = DurationPattern().Match(text ?? string.Empty);
        if (!match.Success || !double.TryParse(match.Groups[1].Value, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out double amount))
        {
            throw new FabricValidationException("timeout", $"timeout '{text}' is not a duration such as 10s, 500ms or 1m (a bare number is seconds).");
        }

        var value = match.Groups[2].Value switch
        {
            "ms" => TimeSpan.FromMilliseconds(amount),
            "m" => TimeSpan.FromMinutes(amount),
            _ => TimeSpan.FromSeconds(amount),
        };
        return value > TimeSpan.Zero && value <= MaxTimeout
            ? value
            : throw new FabricValidationException("timeout", $"timeout '{text}' is out of range: more than 0 and at most {Format(MaxTimeout)}.");
    }

    private static string Format(TimeSpan t) => t.TotalSeconds >= 1
        ? $"{t.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture)} s"
        : $"{t.TotalMilliseconds.ToString("0", CultureInfo.InvariantCulture)} ms";

    [GeneratedRegex(@"^(\d{1,6}(?:\.\d{1,3})?)(ms|s|m)?$", RegexOptions.CultureInvariant)]
    private static partial Regex DurationPattern();
}

/// <summary>
/// A write was stored, but not every live host reported applying it within the barrier's timeout
/// (<see cref="ApplyBarrier"/>): answered 504 with <see cref="Hosts"/> as the problem's <c>hosts</c>.
/// </summary>
/// <param name="message">The problem's detail: what is stored and who has not applied it.</param>
/// <param name="hosts">The host ids that have not, in ordinal order.</param>
public sealed class ApplyTimeoutException(string message, IReadOnlyList<string> hosts) : Exception(message)
{
    /// <summary>The hosts that have not applied the change.</summary>
    public IReadOnlyList<string> Hosts { get; } = hosts;
}
