using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Fabric.Cni;

/// <summary>
/// The fabric agent's local port API on its unix socket (HTTP/JSON; the agent's README section
/// "Ports attached at run time"). Every failure becomes a <see cref="CniError"/>: the agent not
/// answering is 11 (try again later), its 400 or an unknown port group 7 (the config is wrong), a
/// conflict 100, its 503 (the cluster unreachable, no free slot) 11.
/// </summary>
internal sealed class AgentClient(string socketPath) : IDisposable
{
    // The agent bounds its own cluster calls; an attach waits for one registration, an address
    // for the port group's IPAM grain (at most three times the agent's CallTimeout, 15 s).
    private readonly HttpClient _http = UnixSocketHttp.Create(socketPath, TimeSpan.FromSeconds(30));

    /// <summary>Sends a request; the JSON body of a 2xx answer, or (with <paramref name="notFoundIsNull"/>) null for a 404.</summary>
    public async Task<JsonNode?> SendAsync(HttpMethod method, string path, JsonObject? body = null, bool notFoundIsNull = false)
    {
        using var request = new HttpRequestMessage(method, path);
        if (body is not null)
        {
            request.Content = new StringContent(body.ToJsonString(), System.Text.Encoding.UTF8, "application/json");
        }

        HttpResponseMessage response;
        try
        {
            response = await _http.SendAsync(request);
        }
        catch (Exception ex) when (ex is HttpRequestException or SocketException or TaskCanceledException or IOException)
        {
            throw new CniError(CniError.TryAgainLater, $"the fabric agent does not answer on {socketPath}", (ex.InnerException ?? ex).Message);
        }

        using (response)
        {
            string text = await response.Content.ReadAsStringAsync();
            JsonNode? json = null;
            try
            {
                json = text.Length == 0 ? null : JsonNode.Parse(text);
            }
            catch (JsonException)
            {
                // Not JSON: reported below with the status.
            }

            if (response.IsSuccessStatusCode)
            {
                return json;
            }

            if (response.StatusCode == HttpStatusCode.NotFound && notFoundIsNull)
            {
                return null;
            }

            string message = json?["error"]?.GetValue<string>() ?? $"{(int)response.StatusCode} {response.ReasonPhrase}";
            string? field = json?["field"]?.GetValue<string>();
            int code = response.StatusCode switch
            {
                HttpStatusCode.BadRequest => CniError.InvalidConfig,
                HttpStatusCode.NotFound when field == "portGroup" => CniError.InvalidConfig,
                HttpStatusCode.ServiceUnavailable => CniError.TryAgainLater,
                HttpStatusCode.NotFound or HttpStatusCode.Conflict => CniError.Refused,
                _ => CniError.IoFailure,
            };
            throw new CniError(code, $"fabric agent: {message}", field is null ? $"{method} /{path}" : $"field {field}; {method} /{path}");
        }
    }

    public void Dispose() => _http.Dispose();
}
