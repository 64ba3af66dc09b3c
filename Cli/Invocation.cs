using System.CommandLine;
using Fabric.Cli.Api;
using Fabric.Cli.Output;
using Spectre.Console;

namespace Fabric.Cli;

/// <summary>One run of a command: what was parsed, where to print, the API client, and the global options' values.</summary>
internal sealed class Invocation(ParseResult parse, CliConsole console, FabricClient api, OutputFormat format, WaitSpec? wait, CancellationToken cancellation)
{
    /// <summary>What System.CommandLine parsed.</summary>
    public ParseResult Parse { get; } = parse;

    /// <summary>Where to print.</summary>
    public CliConsole Console { get; } = console;

    /// <summary>The management API.</summary>
    public FabricClient Api { get; } = api;

    /// <summary><c>-o table|json</c>.</summary>
    public OutputFormat Format { get; } = format;

    /// <summary>Whether to print the API's JSON.</summary>
    public bool Json => Format == OutputFormat.Json;

    /// <summary><c>--wait [--timeout]</c> on a write; null otherwise.</summary>
    public WaitSpec? Wait { get; } = wait;

    /// <summary>Fires on Ctrl-C.</summary>
    public CancellationToken Cancellation { get; } = cancellation;

    /// <summary>Standard output for tables.</summary>
    public IAnsiConsole Out => Console.Out;

    /// <summary>Now, for ages.</summary>
    public DateTimeOffset Now => Console.Time.GetUtcNow();

    /// <summary>An option's value.</summary>
    public T? Get<T>(Option<T> option) => Parse.GetValue(option);

    /// <summary>An argument's value.</summary>
    public T Get<T>(Argument<T> argument) => Parse.GetValue(argument)!;

    /// <summary>Prints a write's answer: its JSON with <c>-o json</c>, else <paramref name="table"/> of it (or a line).</summary>
    public void Written(ApiAnswer answer, string summary, Action? table = null)
    {
        if (Json)
        {
            JsonOutput.Write(Console, answer.Body);
            return;
        }

        Tables.Line(Out, summary + (Wait is not null ? " (applied on every live host)" : string.Empty));
        table?.Invoke();
    }
}
