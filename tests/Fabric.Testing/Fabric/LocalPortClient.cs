using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Fabric.Testing;

/// <summary>
/// A client of an agent's local port API (HTTP/JSON on its unix socket, <c>Fabric:Agent:LocalApiSocket</c>),
/// as the CNI plugin and hypervisor hooks talk to it. Answers are returned raw (status and JSON), so
/// tests assert on what a client sees.
/// </summary>
public sealed class LocalPortClient(string socketPath) : IDisposable
{
    private readonly HttpClient _http = Fabric.Cni.UnixSocketHttp.Create(socketPath, TimeSpan.FromSeconds(30));

    /// <summary>An answer: the status and the body as JSON (null when empty).</summary>
    public sealed record Answer(HttpStatusCode Status, JsonNode? Body)
    {
        /// <summary>A string property of the body.</summary>
        public string? Text(string name) => Body?[name]?.GetValue<string>();
    }

    /// <summary><c>POST /v1/ports</c>: attaches <paramref name="interfaceName"/> to <paramref name="portGroup"/>.</summary>
    public Task<Answer> AttachAsync(string interfaceName, string portGroup, string? mac = null, IReadOnlyList<string>? ipv4 = null, string? owner = null, object? vlan = null)
        => SendAsync(HttpMethod.Post, "v1/ports", new { @interface = interfaceName, portGroup, mac, ipv4, owner, vlan });

    /// <summary><c>DELETE /v1/ports/{interface}</c>.</summary>
    public Task<Answer> DetachAsync(string interfaceName) => SendAsync(HttpMethod.Delete, $"v1/ports/{interfaceName}");

    /// <summary><c>GET /v1/ports</c>.</summary>
    public Task<Answer> ListAsync() => SendAsync(HttpMethod.Get, "v1/ports");

    /// <summary><c>GET /v1/status</c>.</summary>
    public Task<Answer> StatusAsync() => SendAsync(HttpMethod.Get, "v1/status");

    /// <summary>Any call.</summary>
    public async Task<Answer> SendAsync(HttpMethod method, string path, object? body = null)
    {
        using var request = new HttpRequestMessage(method, path);
        if (body is not null)
        {
            request.Content = JsonContent.Create(body, options: new JsonSerializerOptions(JsonSerializerDefaults.Web) { DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull });
        }

        using var response = await _http.SendAsync(request);
        string text = await response.Content.ReadAsStringAsync();
        return new Answer(response.StatusCode, text.Length == 0 ? null : JsonNode.Parse(text));
    }

    /// <inheritdoc />
    public void Dispose() => _http.Dispose();
}
