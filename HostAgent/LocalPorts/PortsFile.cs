using System.Text.Json;
using System.Text.Json.Serialization;

namespace Fabric.HostAgent.LocalPorts;

/// <summary>
/// The runtime-attached ports on disk (<c>Fabric:Agent:RuntimePortsFile</c>), so a restarted agent
/// restores them in the same slots. JSON: <c>{"version":1,"ports":[{"slot":5,"interface":"veth…",
/// "portGroup":"web","mac":"02:…","ipv4":["10.20.0.5"],"owner":"cni:…/eth0","attachedAt":"…"}]}</c>.
/// Written atomically (a temporary file flushed to disk, then renamed over the old one), so a crash
/// leaves the old list or the new one, never half a file.
/// </summary>
internal static class PortsFile
{
    /// <summary>The format version this agent writes and reads.</summary>
    public const int FormatVersion = 1;

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    /// <summary>Writes <paramref name="ports"/> (the runtime ones; configured ports are not saved).</summary>
    /// <exception cref="IOException">The file could not be written; the old one is left as it was.</exception>
    public static void Save(string path, IEnumerable<LocalPort> ports)
    {
        var saved = new Saved(FormatVersion, [.. ports.Where(p => !p.Configured).OrderBy(p => p.Slot)]);
        string temp = path + ".tmp";
        try
        {
            using (var stream = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None))
            {
                JsonSerializer.Serialize(stream, saved, Json);
                stream.Flush(flushToDisk: true);
            }

            File.Move(temp, path, overwrite: true);
        }
        catch (UnauthorizedAccessException ex)
        {
            throw new IOException($"cannot write {path}: {ex.Message}", ex);
        }
    }

    /// <summary>The saved ports; empty when there is no file yet.</summary>
    /// <exception cref="InvalidDataException">The file exists but cannot be read as a port list (named, with why): the agent does not start over it, since the next save would lose what it holds.</exception>
    public static IReadOnlyList<LocalPort> Load(string path)
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (FileNotFoundException)
        {
            return [];
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new InvalidDataException($"Fabric:Agent:RuntimePortsFile '{path}' cannot be read ({ex.Message}).", ex);
        }

        Saved? saved;
        try
        {
            saved = JsonSerializer.Deserialize<Saved>(bytes, Json);
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"Fabric:Agent:RuntimePortsFile '{path}' is not a port list ({ex.Message}); repair or remove it.", ex);
        }

        if (saved is null || saved.Version != FormatVersion || saved.Ports is null)
        {
            throw new InvalidDataException($"Fabric:Agent:RuntimePortsFile '{path}' is not a version {FormatVersion} port list; repair or remove it.");
        }

        return saved.Ports;
    }

    private sealed record Saved(int Version, LocalPort[]? Ports);
}
