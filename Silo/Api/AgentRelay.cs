using Fabric.Grains;

namespace Fabric.Silo.Api;

/// <summary>
/// Routes the silo relays to a host's agent, on the management endpoint the agent registered
/// (<see cref="HostInfo.ManagementUrl"/>): its status (counters, tables), frame traces and port
/// mirrors. The operator talks to the silo only. A host that is not registered is a 404; an agent
/// without an endpoint, or one that does not answer within <see cref="CallTimeout"/>, a 503 naming
/// the host and the URL tried.
/// </summary>
public static class AgentRelay
{
    /// <summary>How long a relayed call (status, trace) may take: 5 s. A mirror streams until the client leaves.</summary>
    public static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(5);

    internal const string ClientName = "fabric-agent";

    /// <summary>The HTTP client the relay uses (no overall timeout: mirrors stream; each call bounds itself).</summary>
    /// <param name="services">The web host's services.</param>
    /// <returns><paramref name="services"/>, for chaining.</returns>
    public static IServiceCollection AddFabricAgentRelay(this IServiceCollection services)
    {
        services.AddHttpClient(ClientName, c => c.Timeout = Timeout.InfiniteTimeSpan);
        return services;
    }

    /// <summary>Maps <c>GET /api/hosts/{id}/status</c> (more relayed routes are documented in the README's API table).</summary>
    /// <param name="app">The endpoint route builder.</param>
    /// <returns><paramref name="app"/>, for chaining.</returns>
    public static IEndpointRouteBuilder MapFabricAgentRelay(this IEndpointRouteBuilder app)
    {
        var hosts = app.MapGroup("/api/hosts");
        hosts.MapGet("/{id}/status", async (string id, IGrainFactory grains, IHttpClientFactory clients, CancellationToken ct) =>
        {
            var (host, endpoint) = await AgentOfAsync(grains, id);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(CallTimeout);
            try
            {
                using var response = await clients.CreateClient(ClientName).GetAsync(new Uri(endpoint, "v1/status"), timeout.Token);
                return await PassThroughAsync(response, timeout.Token);
            }
            catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException && !ct.IsCancellationRequested)
            {
                return Unreachable(host, endpoint, ex);
            }
        });
        return app;
    }

    /// <summary>The host and its agent's endpoint (with a trailing slash); 404 for an unknown host, 503 when it has no endpoint.</summary>
    internal static async Task<(HostInfo Host, Uri Endpoint)> AgentOfAsync(IGrainFactory grains, string id)
    {
        RequestMapping.CheckName("id", id);
        var host = await grains.GetGrain<IHostGrain>(id).GetAsync() ?? throw new FabricNotFoundException("host", id);
        if (host.ManagementUrl is not { } url || !Uri.TryCreate(url.TrimEnd('/') + "/", UriKind.Absolute, out var endpoint))
        {
            throw new AgentUnreachableException($"host {id}'s agent registered no management endpoint (Fabric:Agent:ManagementUrl).");
        }

        return (host, endpoint);
    }

    /// <summary>The agent's answer as it is: status code, content type and body.</summary>
    internal static async Task<IResult> PassThroughAsync(HttpResponseMessage response, CancellationToken ct)
    {
        string body = await response.Content.ReadAsStringAsync(ct);
        string contentType = response.Content.Headers.ContentType?.MediaType ?? "application/json";
        return Results.Text(body, contentType, System.Text.Encoding.UTF8, (int)response.StatusCode);
    }

    /// <summary>503 naming the host, the URL tried and why.</summary>
    internal static IResult Unreachable(HostInfo host, Uri endpoint, Exception ex)
        => Results.Problem(
            statusCode: StatusCodes.Status503ServiceUnavailable,
            title: "Agent unreachable",
            detail: $"host {host.Id}'s agent does not answer at {endpoint} ({(ex is OperationCanceledException ? $"no answer within {CallTimeout.TotalSeconds:0} s" : ex.Message)}).",
            extensions: new Dictionary<string, object?> { ["host"] = host.Id });
}

/// <summary>A host's agent cannot be reached for a relayed call; answered 503.</summary>
public sealed class AgentUnreachableException(string message) : Exception(message);
