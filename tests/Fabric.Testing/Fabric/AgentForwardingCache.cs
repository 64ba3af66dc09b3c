using System.Text.Json;

namespace Fabric.Testing;

/// <summary>
/// A host agent's forwarding cache file (<c>Fabric:Agent:ForwardingCacheFile</c>): the tables it
/// saves for a warm restart, replaced atomically. Tests read when it was saved.
/// </summary>
public sealed class AgentForwardingCache(string path)
{
    /// <summary>The file's path.</summary>
    public string Path { get; } = path;

    /// <summary>When the agent saved the file now on disk (its <c>savedAtUnixMs</c>), or null when there is none yet.</summary>
    public async Task<DateTimeOffset?> SavedAtAsync()
    {
        string json;
        try
        {
            json = await File.ReadAllTextAsync(Path);
        }
        catch (FileNotFoundException)
        {
            return null;
        }

        using var document = JsonDocument.Parse(json);
        foreach (var property in document.RootElement.EnumerateObject())
        {
            if (string.Equals(property.Name, "savedAtUnixMs", StringComparison.OrdinalIgnoreCase))
            {
                return DateTimeOffset.FromUnixTimeMilliseconds(property.Value.GetInt64());
            }
        }

        throw new JsonException($"{Path} has no savedAtUnixMs:\n{json[..Math.Min(json.Length, 500)]}");
    }

    /// <summary>The interface names of the ports in the tables now on disk (empty when there is no file yet).</summary>
    public async Task<string[]> PortNamesAsync()
    {
        string json;
        try
        {
            json = await File.ReadAllTextAsync(Path);
        }
        catch (FileNotFoundException)
        {
            return [];
        }

        using var document = JsonDocument.Parse(json);
        var ports = document.RootElement.EnumerateObject().FirstOrDefault(p => string.Equals(p.Name, "ports", StringComparison.OrdinalIgnoreCase));
        return ports.Value.ValueKind != JsonValueKind.Array
            ? []
            : [.. ports.Value.EnumerateArray().Select(p => p.EnumerateObject().First(f => string.Equals(f.Name, "name", StringComparison.OrdinalIgnoreCase)).Value.GetString()!)];
    }
}
