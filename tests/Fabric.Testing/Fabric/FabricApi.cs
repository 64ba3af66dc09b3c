using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace Fabric.Testing;

/// <summary>An answer of the management API: status, body and content type.</summary>
public sealed record ApiResponse(HttpStatusCode Status, string Body, string? ContentType);

/// <summary>A call to the management API that did not answer 2xx; the message names the call, the status and the body.</summary>
public sealed class ApiCallFailedException(string message) : Exception(message);

/// <summary>
/// The management API of a fabric's silos, as an operator's script uses it: every call goes to the
/// first silo that answers (silos come and go in some tests).
/// </summary>
/// <param name="silos">The HTTP clients of the silos to try, in order; asked again for each call.</param>
public sealed class FabricApi(Func<IEnumerable<HttpClient>> silos)
{
    /// <summary>Sends a request; throws <see cref="HttpRequestException"/> only if no silo answered.</summary>
    public async Task<ApiResponse> SendAsync(HttpMethod method, string path, string? json = null, string contentType = "application/json")
    {
        Exception? last = null;
        foreach (var http in silos())
        {
            try
            {
                using var request = new HttpRequestMessage(method, path);
                if (json is not null)
                {
                    request.Content = new StringContent(json, Encoding.UTF8);
                    request.Content.Headers.ContentType = new MediaTypeHeaderValue(contentType);
                }

                using var response = await http.SendAsync(request);
                return new ApiResponse(response.StatusCode, await response.Content.ReadAsStringAsync(), response.Content.Headers.ContentType?.MediaType);
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
            {
                last = ex;
            }
        }

        throw new HttpRequestException($"no silo answered {method} {path}: {last?.Message}");
    }

    /// <summary>Sends a request and returns the body; throws <see cref="ApiCallFailedException"/> unless the answer is 2xx.</summary>
    public async Task<string> CheckedAsync(HttpMethod method, string path, string? json = null)
    {
        var response = await SendAsync(method, path, json);
        return (int)response.Status is >= 200 and < 300
            ? response.Body
            : throw new ApiCallFailedException($"{method} {path}: {(int)response.Status} {response.Body}");
    }

    /// <summary>PUT <paramref name="json"/> to <paramref name="path"/>; throws unless 2xx.</summary>
    public Task<string> PutAsync(string path, string json) => CheckedAsync(HttpMethod.Put, path, json);

    /// <summary>GET <paramref name="path"/> as JSON; throws unless 2xx.</summary>
    public async Task<JsonElement> GetJsonAsync(string path) => JsonDocument.Parse(await CheckedAsync(HttpMethod.Get, path)).RootElement.Clone();

    /// <summary>The VTEP addresses in the flood list of segment <paramref name="vni"/>.</summary>
    public async Task<string[]> FloodListAsync(long vni)
        => (await GetJsonAsync($"api/segments/{vni}")).GetProperty("floodList").EnumerateArray().Select(e => e.GetProperty("vtep").GetString()!).ToArray();

    /// <summary>The MAC table of segment <paramref name="vni"/>: lower-case MAC → entry.</summary>
    public async Task<Dictionary<string, JsonElement>> MacTableAsync(long vni)
        => (await GetJsonAsync($"api/segments/{vni}/macs")).GetProperty("entries").EnumerateArray()
            .ToDictionary(e => e.GetProperty("mac").GetString()!.ToLowerInvariant(), e => e.Clone());

    /// <summary>The MAC table entry of <paramref name="mac"/> in <paramref name="vni"/>, if any.</summary>
    public async Task<JsonElement?> MacEntryAsync(long vni, string mac)
        => (await MacTableAsync(vni)).TryGetValue(mac.ToLowerInvariant(), out var entry) ? entry : null;

    /// <summary>The IPv4 → MAC bindings of segment <paramref name="vni"/> (<c>ipBindings</c> of its MAC table), by address.</summary>
    public async Task<Dictionary<string, IpBinding>> IpBindingsAsync(long vni)
        => (await GetJsonAsync($"api/segments/{vni}/macs")).GetProperty("ipBindings").EnumerateArray()
            .Select(IpBinding.From)
            .ToDictionary(b => b.Ip);

    /// <summary>Whether every live host on <paramref name="switchName"/> has applied its configuration version (<c>appliedOnEveryHost</c>).</summary>
    public async Task<bool> AppliedOnEveryHostAsync(string switchName)
        => (await GetJsonAsync($"api/switches/{switchName}")).GetProperty("appliedOnEveryHost").GetBoolean();
}

/// <summary>An IPv4 → MAC binding of a segment's MAC table, as the API shows it.</summary>
/// <param name="Ip">The address.</param>
/// <param name="Mac">The MAC it is bound to (lower case).</param>
/// <param name="Sequence">Its mobility sequence (null when the API does not show one).</param>
/// <param name="Duplicate">Whether it is flagged duplicate (null when the API does not show it).</param>
/// <param name="Json">The binding's JSON, for failure messages.</param>
public sealed record IpBinding(string Ip, string Mac, long? Sequence, bool? Duplicate, string Json)
{
    /// <summary>Reads one element of <c>ipBindings</c>.</summary>
    public static IpBinding From(JsonElement e) => new(
        e.GetProperty("ip").GetString()!,
        e.GetProperty("mac").GetString()!.ToLowerInvariant(),
        e.TryGetProperty("sequence", out var sequence) ? sequence.GetInt64() : null,
        e.TryGetProperty("duplicate", out var duplicate) ? duplicate.GetBoolean() : null,
        e.GetRawText());

    /// <inheritdoc/>
    public override string ToString() => Json;
}
