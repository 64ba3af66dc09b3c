using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Fabric.Cli.Api;

namespace Fabric.Cli.Commands;

/// <summary>Options and helpers the nouns share: <c>--switch</c>, <c>--file</c>, bodies made of options.</summary>
internal static class Common
{
    /// <summary><c>--switch NAME</c>: optional where the fabric has exactly one switch.</summary>
    public static Option<string?> SwitchOption(FabricCli cli, string description = "The switch (may be left out when the fabric has one)")
    {
        var option = new Option<string?>("--switch") { Description = description, HelpName = "SWITCH" };
        option.CompletionSources.Add(cli.Completions.Switches);
        return option;
    }

    /// <summary><c>--host ID</c>, required.</summary>
    public static Option<string> HostOption(FabricCli cli, string description = "The host (its agent's host id)")
    {
        var option = new Option<string>("--host") { Description = description, HelpName = "HOST", Required = true };
        option.CompletionSources.Add(cli.Completions.Hosts);
        return option;
    }

    /// <summary><c>--file FILE</c>: the whole JSON body (<c>-</c> reads standard input); options given too override its fields.</summary>
    public static Option<string?> FileOption() => new("--file", "-f")
    {
        Description = "The whole JSON body from FILE ('-' reads standard input); options given as well override its fields",
        HelpName = "FILE",
    };

    /// <summary>
    /// The switch a command is about: <paramref name="given"/>, or the only switch of the fabric.
    /// </summary>
    /// <exception cref="CliUsageException">None given and the fabric has none or several.</exception>
    public static async Task<string> SwitchAsync(Invocation run, string? given)
    {
        if (given is { Length: > 0 })
        {
            return given;
        }

        var switches = (await run.Api.GetAsync("api/switches", run.Cancellation)).As(CliJson.Default.SwitchViewArray);
        return switches.Length switch
        {
            1 => switches[0].Name,
            0 => throw new CliUsageException("--switch is required: the fabric has no switch yet (fabricctl switch set NAME --mtu 1450)."),
            _ => throw new CliUsageException($"--switch is required: the fabric has several switches ({string.Join(", ", switches.Select(s => s.Name))})."),
        };
    }

    /// <summary>The body from <c>--file</c>, or an empty object.</summary>
    /// <exception cref="CliUsageException">The file cannot be read or is not a JSON object.</exception>
    public static JsonObject Body(Invocation run, Option<string?> file)
    {
        if (run.Get(file) is not { Length: > 0 } path)
        {
            return [];
        }

        string text;
        try
        {
            text = path == "-" ? run.Console.In().ReadToEnd() : File.ReadAllText(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new CliUsageException($"--file {path}: {ex.Message}");
        }

        try
        {
            return JsonNode.Parse(text) as JsonObject ?? throw new CliUsageException($"--file {path}: the body must be a JSON object.");
        }
        catch (JsonException ex)
        {
            throw new CliUsageException($"--file {path}: not JSON: {ex.Message}");
        }
    }

    /// <summary>Sets <paramref name="path"/> (dotted, e.g. <c>vlan.accessVlan</c>) in <paramref name="body"/> when <paramref name="value"/> is not null.</summary>
    public static void Set(JsonObject body, string path, JsonNode? value)
    {
        if (value is null)
        {
            return;
        }

        string[] names = path.Split('.');
        var node = body;
        foreach (string name in names[..^1])
        {
            if (node[name] is not JsonObject child)
            {
                child = [];
                node[name] = child;
            }

            node = child;
        }

        node[names[^1]] = value;
    }

    /// <summary>A list of strings as a JSON array; null when <paramref name="values"/> is null or empty.</summary>
    public static JsonArray? Array(IEnumerable<string>? values)
    {
        var list = values?.SelectMany(v => v.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).ToArray();
        return list is { Length: > 0 } ? new JsonArray([.. list.Select(v => (JsonNode)JsonValue.Create(v))]) : null;
    }

    /// <summary>A number as a JSON value, or null.</summary>
    public static JsonNode? Number(long? value) => value is { } v ? JsonValue.Create(v) : null;

    /// <summary>A flag as a JSON value, or null when not given.</summary>
    public static JsonNode? Flag(bool? value) => value is { } v ? JsonValue.Create(v) : null;

    /// <summary>A string as a JSON value, or null.</summary>
    public static JsonNode? Text(string? value) => value is null ? null : JsonValue.Create(value);

    /// <summary>An invariant-culture integer.</summary>
    public static string N(long value) => value.ToString(CultureInfo.InvariantCulture);
}
