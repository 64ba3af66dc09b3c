using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization.Metadata;

namespace Fabric.Cli.Api;

/// <summary>An answer of the management API: its status and its body (JSON, or empty for 204).</summary>
/// <param name="Status">The HTTP status.</param>
/// <param name="Body">The body as text.</param>
internal sealed record ApiAnswer(HttpStatusCode Status, string Body)
{
    /// <summary>The body as <typeparamref name="T"/> (source-generated metadata, no reflection).</summary>
    /// <exception cref="FabricApiException">The body is not the JSON the contract promises.</exception>
    public T As<T>(JsonTypeInfo<T> type)
    {
        try
        {
            return System.Text.Json.JsonSerializer.Deserialize(Body, type)
                ?? throw new System.Text.Json.JsonException("the body is null");
        }
        catch (System.Text.Json.JsonException ex)
        {
            throw new FabricApiException((int)Status, "Unexpected answer", $"the server's answer is not the expected JSON: {ex.Message}", null, [], "");
        }
    }
}

/// <summary>
/// The management API over HTTP (README "Management API"): one call per method, route values
/// escaped, errors thrown as <see cref="FabricApiException"/> (an API error) or
/// <see cref="FabricUnreachableException"/> (no server there).
/// </summary>
internal sealed class FabricClient(HttpClient http, Uri server)
{
    /// <summary>How long an ordinary call may take before it is given up: 30 s.</summary>
    public static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(30);

    /// <summary>The server's base address, e.g. <c>http://127.0.0.1:8080/</c>.</summary>
    public Uri Server { get; } = server;

    /// <summary>Escapes one route value (<c>/api/switches/{name}</c>).</summary>
    public static string Segment(string value) => Uri.EscapeDataString(value);

    /// <summary><c>GET path</c>.</summary>
    public Task<ApiAnswer> GetAsync(string path, CancellationToken cancellation)
        => SendAsync(HttpMethod.Get, path, null, null, cancellation);

    /// <summary><c>PUT path</c> with a JSON body, waiting for convergence when <paramref name="wait"/> says so.</summary>
    public Task<ApiAnswer> PutAsync(string path, JsonNode? body, WaitSpec? wait, CancellationToken cancellation)
        => SendAsync(HttpMethod.Put, path, body ?? new JsonObject(), wait, cancellation);

    /// <summary><c>POST path</c> with a JSON body.</summary>
    public Task<ApiAnswer> PostAsync(string path, JsonNode body, CancellationToken cancellation)
        => SendAsync(HttpMethod.Post, path, body, null, cancellation);

    /// <summary><c>DELETE path</c>, waiting for convergence when <paramref name="wait"/> says so.</summary>
    public Task<ApiAnswer> DeleteAsync(string path, WaitSpec? wait, CancellationToken cancellation)
        => SendAsync(HttpMethod.Delete, path, null, wait, cancellation);

    /// <summary>
    /// <c>GET path</c> as a stream (a capture), headers read and status checked, the body not yet:
    /// no time-out; it ends when the server closes or <paramref name="cancellation"/> fires.
    /// </summary>
    public async Task<HttpResponseMessage> OpenStreamAsync(string path, CancellationToken cancellation)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, new Uri(Server, path));
        HttpResponseMessage response;
        try
        {
            response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellation);
        }
        catch (HttpRequestException ex)
        {
            throw Unreachable(ex);
        }

        if (!response.IsSuccessStatusCode)
        {
            using (response)
            {
                string body = await response.Content.ReadAsStringAsync(cancellation);
                throw FabricApiException.From(response.StatusCode, response.ReasonPhrase, body, $"GET {path}");
            }
        }

        return response;
    }

    private async Task<ApiAnswer> SendAsync(HttpMethod method, string path, JsonNode? body, WaitSpec? wait, CancellationToken cancellation)
    {
        if (wait is not null)
        {
            path += (path.Contains('?', StringComparison.Ordinal) ? "&" : "?") + wait.Query;
        }

        using var request = new HttpRequestMessage(method, new Uri(Server, path));
        if (body is not null)
        {
            request.Content = new StringContent(body.ToJsonString(), Encoding.UTF8, new MediaTypeHeaderValue("application/json"));
        }

        request.Headers.Accept.ParseAdd("application/json");

        // A wait is bounded by the server; the client gives it that long and a margin.
        using var bound = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        var limit = CallTimeout + (wait?.Timeout ?? TimeSpan.Zero);
        bound.CancelAfter(limit);
        try
        {
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseContentRead, bound.Token);
            string text = await response.Content.ReadAsStringAsync(bound.Token);
            return response.IsSuccessStatusCode
                ? new ApiAnswer(response.StatusCode, text)
                : throw FabricApiException.From(response.StatusCode, response.ReasonPhrase, text, $"{method} {path}");
        }
        catch (HttpRequestException ex)
        {
            throw Unreachable(ex);
        }
        catch (OperationCanceledException ex) when (!cancellation.IsCancellationRequested)
        {
            throw new FabricUnreachableException(Server, $"no answer within {WaitSpec.Format(limit)}", ex);
        }
    }

    private FabricUnreachableException Unreachable(HttpRequestException ex)
    {
        string reason = ex.InnerException is SocketException socket
            ? socket.SocketErrorCode switch
            {
                SocketError.ConnectionRefused => "connection refused",
                SocketError.HostNotFound or SocketError.NoData or SocketError.TryAgain => "unknown host",
                SocketError.TimedOut => "connect timed out",
                SocketError.NetworkUnreachable or SocketError.HostUnreachable => "network unreachable",
                _ => socket.Message,
            }
            : ex.HttpRequestError switch
            {
                HttpRequestError.ConnectionError => "connection failed",
                HttpRequestError.NameResolutionError => "unknown host",
                HttpRequestError.ResponseEnded => "the connection closed before an answer",
                _ => ex.Message,
            };
        return new FabricUnreachableException(Server, reason, ex);
    }
}
