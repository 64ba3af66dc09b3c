using Spectre.Console;

namespace Fabric.Cli;

/// <summary>
/// Where fabricctl reads and writes: tables and JSON go to <see cref="Out"/> (standard output),
/// errors to <see cref="Error"/> (standard error, one plain line each), a capture's bytes to
/// <see cref="OpenStandardOutput"/>. Tests give a Spectre.Console TestConsole and string writers.
/// </summary>
internal sealed class CliConsole
{
    /// <summary>Standard output as a Spectre console (tables); plain text goes to its <c>Profile.Out.Writer</c>.</summary>
    public required IAnsiConsole Out { get; init; }

    /// <summary>Standard error.</summary>
    public required TextWriter Error { get; init; }

    /// <summary>Standard input (<c>--file -</c>).</summary>
    public Func<TextReader> In { get; init; } = () => Console.In;

    /// <summary>Standard output as bytes (<c>mirror -w -</c>).</summary>
    public Func<Stream> OpenStandardOutput { get; init; } = Console.OpenStandardOutput;

    /// <summary>Environment variables (<c>FABRIC_SERVER</c>).</summary>
    public Func<string, string?> Environment { get; init; } = System.Environment.GetEnvironmentVariable;

    /// <summary>The clock, for ages such as "learned 3m ago".</summary>
    public TimeProvider Time { get; init; } = TimeProvider.System;

    /// <summary>The HTTP handler of the API client; tests may give a handler of their own. Defaults to a new <see cref="SocketsHttpHandler"/>.</summary>
    public Func<HttpMessageHandler> HttpHandler { get; init; } = () => new SocketsHttpHandler { ConnectTimeout = TimeSpan.FromSeconds(5) };

    /// <summary>
    /// The process's own console. Piped into another program, tables are not wrapped at 80 columns
    /// and carry no colour, so <c>grep</c> and <c>awk</c> see one row per line.
    /// </summary>
    public static CliConsole FromProcess()
    {
        var stdout = new StreamWriter(Console.OpenStandardOutput()) { AutoFlush = true };
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(stdout),
            Ansi = Console.IsOutputRedirected ? AnsiSupport.No : AnsiSupport.Detect,
            ColorSystem = Console.IsOutputRedirected ? ColorSystemSupport.NoColors : ColorSystemSupport.Detect,
        });
        if (Console.IsOutputRedirected)
        {
            console.Profile.Width = 4096;
        }

        return new CliConsole { Out = console, Error = Console.Error };
    }
}
