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

    /// <summary>
    /// Maps <c>GET /api/hosts/{id}/status</c> (the agent's status: counters, tables) and
    /// <c>POST /api/hosts/{id}/trace</c> (a dry run of a frame through the host's pipeline; the body
    /// and the answer are the agent's, README "Operating the fabric") and
    /// <c>GET /api/hosts/{id}/ports/{port}/mirror?direction=in|out|both&amp;count=N</c> (a local port
    /// mirror, streamed as pcap for as long as the caller reads).
    /// </summary>
    /// <param name="app">The endpoint route builder.</param>
    /// <returns><paramref name="app"/>, for chaining.</returns>
    public static IEndpointRouteBuilder MapFabricAgentRelay(this IEndpointRouteBuilder app)
    {
        var hosts = app.MapGroup("/api/hosts");
        hosts.MapGet("/{id}/status", async (string id, IGrainFactory grains, IHttpClientFactory clients, CancellationToken ct) =>
            await RelayAsync(grains, id, clients, (client, endpoint, token) => client.GetAsync(new Uri(endpoint, "v1/status"), token), ct));
        hosts.MapPost("/{id}/trace", async (string id, HttpRequest request, IGrainFactory grains, IHttpClientFactory clients, CancellationToken ct) =>
        {
            using var body = new MemoryStream();
            await request.Body.CopyToAsync(body, ct);
            return await RelayAsync(grains, id, clients, (client, endpoint, token) =>
            {
                var content = new ByteArrayContent(body.ToArray());
                content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
                return client.PostAsync(new Uri(endpoint, "v1/trace"), content, token);
            }, ct);
        });
        hosts.MapGet("/{id}/ports/{port}/mirror", async (string id, string port, HttpContext context, IGrainFactory grains, IHttpClientFactory clients) =>
        {
            var ct = context.RequestAborted;
            var (host, endpoint) = await AgentOfAsync(grains, id);
            var query = context.Request.QueryString.HasValue ? context.Request.QueryString.Value!.TrimStart('?') + "&" : "";
            var uri = new Uri(endpoint, $"v1/mirror?{query}port={Uri.EscapeDataString(port)}");
            HttpResponseMessage response;
            using (var connect = CancellationTokenSource.CreateLinkedTokenSource(ct))
            {
                connect.CancelAfter(CallTimeout);
                try
                {
                    response = await clients.CreateClient(ClientName).GetAsync(uri, HttpCompletionOption.ResponseHeadersRead, connect.Token);
                }
                catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException && !ct.IsCancellationRequested)
                {
                    await Unreachable(host, endpoint, ex).ExecuteAsync(context);
                    return;
                }
            }

            using (response)
            {
                if (!response.IsSuccessStatusCode)
                {
                    await (await PassThroughAsync(response, ct)).ExecuteAsync(context);
                    return;
                }

                // A pcap stream for as long as the operator reads it: copied as it comes, flushed per chunk.
                context.Response.ContentType = "application/vnd.tcpdump.pcap";
                await context.Response.StartAsync(ct);
                try
                {
                    await using var source = await response.Content.ReadAsStreamAsync(ct);
                    var buffer = new byte[64 * 1024];
                    int read;
                    while ((read = await source.ReadAsync(buffer, ct)) > 0)
                    {
                        await context.Response.Body.WriteAsync(buffer.AsMemory(0, read), ct);
                        await context.Response.Body.FlushAsync(ct);
                    }
                }
                catch (Exception ex) when (ex is OperationCanceledException or IOException or HttpRequestException)
                {
                    // The operator or the agent left: the mirror ends (the agent ends its session when we close).
                }
            }
        });
        return app;
    }

    /// <summary>
    /// One call to host <paramref name="id"/>'s agent, bounded by <see cref="CallTimeout"/>: its answer
    /// passed through as it is, or 503 naming the host when it does not answer.
    /// </summary>
    private static async Task<IResult> RelayAsync(IGrainFactory grains, string id, IHttpClientFactory clients, Func<HttpClient, Uri, CancellationToken, Task<HttpResponseMessage>> call, CancellationToken ct)
    {
        var (host, endpoint) = await AgentOfAsync(grains, id);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(CallTimeout);
        try
        {
            using var response = await call(clients.CreateClient(ClientName), endpoint, timeout.Token);
            return await PassThroughAsync(response, timeout.Token);
        }
        catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException && !ct.IsCancellationRequested)
        {
            return Unreachable(host, endpoint, ex);
        }
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
