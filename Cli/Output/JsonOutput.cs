using System.Buffers;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Fabric.Cli.Output;

/// <summary><c>-o json</c>: the API's own JSON, indented, on standard output (for <c>jq</c> and scripts).</summary>
internal static class JsonOutput
{
    private static readonly JsonWriterOptions Indented = new() { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>Writes an answer's body as it came, indented; nothing for an empty body (204).</summary>
    public static void Write(CliConsole console, string body)
    {
        if (string.IsNullOrWhiteSpace(body))
        {
            return;
        }

        using var document = JsonDocument.Parse(body);
        WriteWith(console, document.RootElement.WriteTo);
    }

    /// <summary>Writes a node made of several answers (e.g. every switch's port groups in one array).</summary>
    public static void Write(CliConsole console, JsonNode node) => WriteWith(console, writer => node.WriteTo(writer));

    private static void WriteWith(CliConsole console, Action<Utf8JsonWriter> write)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer, Indented))
        {
            write(writer);
        }

        var text = console.Out.Profile.Out.Writer;
        text.WriteLine(Encoding.UTF8.GetString(buffer.WrittenSpan));
        text.Flush();
    }
}
