using System.Net;
using System.Text.Json;

namespace Fabric.Cli.Api;

/// <summary>
/// The management API answered with an error: an RFC 7807 problem (<c>status</c>, <c>title</c>,
/// <c>detail</c>, and Fabric's <c>field</c> naming the bad value; a 504 from <c>?wait=applied</c>
/// adds <c>hosts</c>, the hosts that had not applied the change), or a bare status.
/// </summary>
internal sealed class FabricApiException(int status, string? title, string? detail, string? field, IReadOnlyList<string> hosts, string request)
    : Exception($"{status} {detail ?? title}")
{
    /// <summary>The HTTP status.</summary>
    public int Status { get; } = status;

    /// <summary>The problem's title, or the reason phrase.</summary>
    public string? Title { get; } = title;

    /// <summary>The problem's detail.</summary>
    public string? Detail { get; } = detail;

    /// <summary>The JSON field (or route value) the error is about, when the API named one.</summary>
    public string? Field { get; } = field;

    /// <summary>For a convergence time-out (504): the hosts that had not applied the change.</summary>
    public IReadOnlyList<string> Hosts { get; } = hosts;

    /// <summary>The call that failed, e.g. <c>PUT /api/switches/dvs</c>.</summary>
    public string Request { get; } = request;

    /// <summary>
    /// The one line an operator reads: <c>400 vni: vni 99999999 is out of range ...</c>;
    /// <c>504 ... (not applied on: h2, h3)</c>; a 404 without a problem names the call.
    /// </summary>
    public string OneLine()
    {
        string text = OneLineOf(Detail) ?? OneLineOf(Title) ?? "(no detail)";
        string line = Field is { Length: > 0 } f ? $"{Status} {f}: {text}" : $"{Status} {text}";
        if (Hosts.Count > 0)
        {
            line += $" (not applied on: {string.Join(", ", Hosts)})";
        }

        if (Detail is null && Status == 404)
        {
            line += $" ({Request}: the server has no such route; is it an older silo?)";
        }

        return line;
    }

    /// <summary>Reads an error answer: a problem+json body if it is one, else the status and reason.</summary>
    public static FabricApiException From(HttpStatusCode status, string? reason, string body, string request)
    {
        if (body.Length > 0)
        {
            try
            {
                using var document = JsonDocument.Parse(body);
                var root = document.RootElement;
                if (root.ValueKind == JsonValueKind.Object)
                {
                    return new FabricApiException(
                        root.TryGetProperty("status", out var s) && s.TryGetInt32(out int statusValue) ? statusValue : (int)status,
                        StringOf(root, "title") ?? reason,
                        StringOf(root, "detail"),
                        StringOf(root, "field"),
                        HostsOf(root),
                        request);
                }
            }
            catch (JsonException)
            {
                // Not JSON (a proxy's page, a plain-text error): the first line of it is the detail.
            }

            return new FabricApiException((int)status, reason, OneLineOf(body), null, [], request);
        }

        return new FabricApiException((int)status, reason, null, null, [], request);
    }

    private static string? StringOf(JsonElement root, string name)
        => root.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    /// <summary><c>hosts</c> as strings, or objects with a <c>hostId</c>/<c>id</c>: the contract says a list of hosts, not its shape.</summary>
    private static string[] HostsOf(JsonElement root)
    {
        if (!root.TryGetProperty("hosts", out var hosts) || hosts.ValueKind != JsonValueKind.Array)
        {
            return [];
        }

        var names = new List<string>();
        foreach (var host in hosts.EnumerateArray())
        {
            string? name = host.ValueKind switch
            {
                JsonValueKind.String => host.GetString(),
                JsonValueKind.Object => StringOf(host, "hostId") ?? StringOf(host, "id") ?? StringOf(host, "host"),
                _ => null,
            };
            if (name is not null)
            {
                names.Add(name);
            }
        }

        return [.. names];
    }

    private static string? OneLineOf(string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return null;
        }

        string flat = string.Join(' ', text.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        return flat.Length > 400 ? flat[..400] + "..." : flat;
    }
}

/// <summary>The server could not be reached at all (refused, unknown name, timed out).</summary>
internal sealed class FabricUnreachableException(Uri server, string reason, Exception inner)
    : Exception($"cannot reach the fabric server at {server} ({reason})", inner)
{
    /// <summary>The server that was tried.</summary>
    public Uri Server { get; } = server;
}

/// <summary>A usage error found after parsing (options that do not go together, an unreadable --file): exit code 2.</summary>
internal sealed class CliUsageException(string message) : Exception(message);
