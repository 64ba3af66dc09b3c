using System.Net;
using Spectre.Console.Testing;

namespace Fabric.Cli.Tests;

/// <summary>How one fabricctl run ended: its exit code, standard output and standard error.</summary>
public sealed record CliResult(int ExitCode, string Out, string Error, byte[] Binary)
{
    /// <summary>Standard error's lines.</summary>
    public string[] ErrorLines => Error.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    /// <summary>Standard output's lines.</summary>
    public string[] Lines => Out.Split('\n', StringSplitOptions.TrimEntries);

    public override string ToString() => $"exit {ExitCode}\n--- stdout\n{Out}\n--- stderr\n{Error}";
}

/// <summary>
/// Runs fabricctl in-process (the same <see cref="FabricCli.RunAsync"/> the executable runs) with
/// Spectre.Console's TestConsole as standard output, wide enough that no table wraps, and a string
/// writer as standard error. Every HTTP request it makes is recorded (method and URL).
/// </summary>
public sealed class CliRun
{
    private readonly List<string> _requests = [];

    /// <summary>The server every run talks to unless <c>--server</c> says otherwise (FABRIC_SERVER).</summary>
    public Uri? Server { get; init; }

    /// <summary>The console width. Defaults to 250 columns.</summary>
    public int Width { get; init; } = 250;

    /// <summary>The clock (for ages). Defaults to the system's.</summary>
    public TimeProvider Time { get; init; } = TimeProvider.System;

    /// <summary>What standard input holds (<c>--file -</c>).</summary>
    public string Input { get; init; } = string.Empty;

    /// <summary>The requests made so far: <c>PUT http://127.0.0.1:1234/api/switches/dvs?wait=applied&amp;timeout=10s</c>.</summary>
    public IReadOnlyList<string> Requests
    {
        get
        {
            lock (_requests)
            {
                return [.. _requests];
            }
        }
    }

    /// <summary>Runs <c>fabricctl <paramref name="args"/></c>.</summary>
    public async Task<CliResult> RunAsync(params string[] args) => await RunAsync(args, CancellationToken.None);

    /// <summary>Runs <c>fabricctl <paramref name="args"/></c> until it ends or <paramref name="cancellation"/> fires (Ctrl-C).</summary>
    public async Task<CliResult> RunAsync(string[] args, CancellationToken cancellation)
    {
        var console = new TestConsole().Width(Width);
        console.Profile.Capabilities.Ansi = false;
        var error = new StringWriter();
        var binary = new MemoryStream();
        var cli = new CliConsole
        {
            Out = console,
            Error = error,
            In = () => new StringReader(Input),
            OpenStandardOutput = () => binary,
            Environment = name => name == FabricCli.ServerVariable ? Server?.ToString() : null,
            Time = Time,
            HttpHandler = () => new Recorder(_requests, new SocketsHttpHandler()),
        };
        int code = await FabricCli.RunAsync(args, cli, cancellation);
        return new CliResult(code, console.Output, error.ToString(), binary.ToArray());
    }

    private sealed class Recorder(List<string> requests, HttpMessageHandler inner) : DelegatingHandler(inner)
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            lock (requests)
            {
                requests.Add($"{request.Method} {request.RequestUri}");
            }

            return base.SendAsync(request, cancellationToken);
        }
    }
}
