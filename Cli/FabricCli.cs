using System.CommandLine;
using System.CommandLine.Invocation;
using Fabric.Cli.Api;
using Fabric.Cli.Commands;
using Fabric.Cli.Completion;
using Fabric.Cli.Output;

namespace Fabric.Cli;

/// <summary>
/// fabricctl: the operator's command line for a Fabric control plane, over the silo's management
/// API. Nouns and verbs (<c>switch ls</c>, <c>portgroup set</c>, <c>fdb show</c>, ...), <c>-o table|json</c>,
/// <c>--server</c> or <c>FABRIC_SERVER</c>. Exit codes: 0 success, 1 an error (the API's problem as
/// one line on standard error), 2 a usage error.
/// </summary>
internal sealed class FabricCli
{
    /// <summary>Exit code of a success.</summary>
    public const int Success = 0;

    /// <summary>Exit code of an error: the API refused, or the server could not be reached.</summary>
    public const int Failure = 1;

    /// <summary>Exit code of a usage error: unknown command or option, a bad or missing value.</summary>
    public const int Usage = 2;

    /// <summary>The server when neither <c>--server</c> nor <c>FABRIC_SERVER</c> names one: the embedded silo's default.</summary>
    public const string DefaultServer = "http://127.0.0.1:8080";

    /// <summary>The environment variable naming the server.</summary>
    public const string ServerVariable = "FABRIC_SERVER";

    private readonly CliConsole _console;

    private FabricCli(CliConsole console)
    {
        _console = console;
        Server = new Option<string?>("--server", "-s")
        {
            Description = $"The silo's management API, e.g. http://10.0.0.11:8080 (default: ${ServerVariable}, else {DefaultServer})",
            HelpName = "URL",
            Recursive = true,
        };
        Output = new Option<OutputFormat?>("--output", "-o")
        {
            Description = "table (default) or json (the API's JSON)",
            HelpName = "table|json",
            Recursive = true,
            CustomParser = r => (r.Tokens.Count == 1 ? r.Tokens[0].Value.ToLowerInvariant() : string.Empty) switch
            {
                "table" => OutputFormat.Table,
                "json" => OutputFormat.Json,
                _ => Fail<OutputFormat?>(r, $"'{string.Join(' ', r.Tokens.Select(t => t.Value))}' is not an output format; use table or json."),
            },
        };
        Output.CompletionSources.Add("table", "json");
        Wait = new Option<bool>("--wait")
        {
            Description = "Answer only when every live host has applied the change (or fail naming those that have not)",
        };
        Timeout = new Option<TimeSpan?>("--timeout")
        {
            Description = "How long --wait waits, e.g. 10s, 500ms, 2m (default 10s; implies --wait)",
            HelpName = "DURATION",
            CustomParser = r => WaitSpec.TryParseDuration(r.Tokens.Count == 1 ? r.Tokens[0].Value : string.Empty, out var value, out string error)
                ? value
                : Fail<TimeSpan?>(r, error),
        };

        Root = new RootCommand("fabricctl: operate a Fabric distributed virtual switch through its management API.")
        {
            Server,
            Output,
        };
        Completions = new ServerCompletions(this, console);
        foreach (var command in new[]
        {
            SwitchCommands.Build(this),
            PortGroupCommands.Build(this),
            SegmentCommands.Build(this),
            FdbCommands.Build(this),
            VtepCommands.Build(this),
            HostCommands.Build(this),
            PortCommands.Build(this),
            IpamCommands.Build(this),
            TraceCommand.Build(this),
            MirrorCommands.Build(this),
            CompletionCommand.Build(this),
        })
        {
            Root.Add(command);
        }
    }

    /// <summary>The root command (tests parse with it).</summary>
    public RootCommand Root { get; }

    /// <summary><c>--server URL</c>, on every command.</summary>
    public Option<string?> Server { get; }

    /// <summary><c>-o table|json</c>, on every command.</summary>
    public Option<OutputFormat?> Output { get; }

    /// <summary><c>--wait</c>, on every write.</summary>
    public Option<bool> Wait { get; }

    /// <summary><c>--timeout DURATION</c>, on every write.</summary>
    public Option<TimeSpan?> Timeout { get; }

    /// <summary>Names the server knows, for shell completion.</summary>
    public ServerCompletions Completions { get; }

    /// <summary>Parses and runs <paramref name="args"/>.</summary>
    /// <returns>The exit code: <see cref="Success"/>, <see cref="Failure"/> or <see cref="Usage"/>.</returns>
    public static Task<int> RunAsync(string[] args, CliConsole console, CancellationToken cancellation = default)
    {
        var cli = new FabricCli(console);
        return cli.InvokeAsync(cli.Root.Parse(args), cancellation);
    }

    /// <summary>Makes the CLI without running it (tests of its parsing and completion).</summary>
    public static FabricCli Create(CliConsole console) => new(console);

    /// <summary>Runs a parsed command line.</summary>
    public async Task<int> InvokeAsync(ParseResult parse, CancellationToken cancellation = default)
    {
        if (parse.Errors.Count > 0 && parse.Action is null or ParseErrorAction)
        {
            foreach (var error in parse.Errors)
            {
                // One line each: some of System.CommandLine's messages list choices on lines of their own.
                string message = string.Join(' ', error.Message.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
                await _console.Error.WriteLineAsync($"fabricctl: {message}");
            }

            var names = new List<string>();
            for (var result = parse.CommandResult; result is not null; result = result.Parent as System.CommandLine.Parsing.CommandResult)
            {
                names.Insert(0, result.Command is RootCommand ? "fabricctl" : result.Command.Name);
            }

            await _console.Error.WriteLineAsync($"Try '{string.Join(' ', names)} --help'.");
            return Usage;
        }

        var configuration = new InvocationConfiguration
        {
            Output = _console.Out.Profile.Out.Writer,
            Error = _console.Error,
            EnableDefaultExceptionHandler = false,
        };
        return await parse.InvokeAsync(configuration, cancellation);
    }

    /// <summary>
    /// Makes <paramref name="command"/> run <paramref name="run"/>, and turns what can go wrong into
    /// one line on standard error and an exit code.
    /// </summary>
    public Command Runs(Command command, Func<Invocation, Task<int>> run)
    {
        command.SetAction(async (parse, cancellation) =>
        {
            try
            {
                using var http = new HttpClient(_console.HttpHandler(), disposeHandler: true) { Timeout = System.Threading.Timeout.InfiniteTimeSpan };
                var api = new FabricClient(http, ServerOf(parse));
                WaitSpec? wait = null;
                if (command.Options.Contains(Wait) && (parse.GetValue(Wait) || parse.GetValue(Timeout) is not null))
                {
                    wait = new WaitSpec(parse.GetValue(Timeout) ?? WaitSpec.DefaultTimeout);
                }

                return await run(new Invocation(parse, _console, api, parse.GetValue(Output) ?? OutputFormat.Table, wait, cancellation));
            }
            catch (CliUsageException ex)
            {
                await _console.Error.WriteLineAsync($"fabricctl: {ex.Message}");
                return Usage;
            }
            catch (FabricApiException ex)
            {
                await _console.Error.WriteLineAsync($"fabricctl: {ex.OneLine()}");
                return Failure;
            }
            catch (FabricUnreachableException ex)
            {
                await _console.Error.WriteLineAsync($"fabricctl: {ex.Message}; is the silo running? (--server or ${ServerVariable})");
                return Failure;
            }
            catch (IOException ex) when (!cancellation.IsCancellationRequested)
            {
                await _console.Error.WriteLineAsync($"fabricctl: {ex.Message}");
                return Failure;
            }
            catch (OperationCanceledException) when (cancellation.IsCancellationRequested)
            {
                return Failure;
            }
        });
        return command;
    }

    /// <summary>Adds <c>--wait</c> and <c>--timeout</c> to a write.</summary>
    public Command Writes(Command command)
    {
        command.Add(Wait);
        command.Add(Timeout);
        return command;
    }

    /// <summary>
    /// The server to call: <c>--server</c>, else <c>FABRIC_SERVER</c>, else <see cref="DefaultServer"/>;
    /// <c>host:port</c> alone means http.
    /// </summary>
    /// <exception cref="CliUsageException">Not an http(s) URL.</exception>
    public Uri ServerOf(ParseResult parse)
    {
        string text = parse.GetValue(Server) is { Length: > 0 } given ? given
            : _console.Environment(ServerVariable) is { Length: > 0 } fromEnvironment ? fromEnvironment
            : DefaultServer;
        if (!text.Contains("://", StringComparison.Ordinal))
        {
            text = "http://" + text;
        }

        if (!Uri.TryCreate(text, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https") || string.IsNullOrEmpty(uri.Host))
        {
            throw new CliUsageException($"'{text}' is not a server URL; use e.g. --server http://127.0.0.1:8080 or {ServerVariable}.");
        }

        return uri.AbsolutePath.EndsWith('/') ? uri : new Uri(uri + "/");
    }

    private static T Fail<T>(System.CommandLine.Parsing.ArgumentResult result, string message)
    {
        result.AddError(message);
        return default!;
    }
}
