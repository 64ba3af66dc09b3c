using System.CommandLine.Completions;
using System.CommandLine.Parsing;
using Fabric.Cli.Api;

namespace Fabric.Cli.Completion;

/// <summary>
/// Completes switch, port group and host names from the server named on the command line (or
/// <c>FABRIC_SERVER</c>). A shell waits for completions, so each asks once, bounded by
/// <see cref="Bound"/>; no server, no completions, never an error.
/// </summary>
internal sealed class ServerCompletions(FabricCli cli, CliConsole console)
{
    /// <summary>How long a completion may wait for the server: 2 s.</summary>
    public static readonly TimeSpan Bound = TimeSpan.FromSeconds(2);

    /// <summary>The switches' names.</summary>
    public IEnumerable<string> Switches(CompletionContext context)
        => Ask(context, async api => (await api.GetAsync("api/switches", CancellationToken.None)).As(CliJson.Default.SwitchViewArray).Select(s => s.Name).ToArray());

    /// <summary>The port groups' names: of the <c>--switch</c> given on the line, else of every switch.</summary>
    public IEnumerable<string> PortGroups(CompletionContext context)
    {
        string? only = context.ParseResult.CommandResult.Children.OfType<OptionResult>()
            .FirstOrDefault(o => o.Option.Name == "--switch")?.Tokens.FirstOrDefault()?.Value;
        return Ask(context, async api => (await api.GetAsync("api/switches", CancellationToken.None)).As(CliJson.Default.SwitchViewArray)
            .Where(s => only is null || s.Name == only)
            .SelectMany(s => (s.PortGroups ?? []).Select(g => g.Name))
            .Distinct(StringComparer.Ordinal)
            .Order(StringComparer.Ordinal)
            .ToArray());
    }

    /// <summary>The hosts' ids.</summary>
    public IEnumerable<string> Hosts(CompletionContext context)
        => Ask(context, async api => (await api.GetAsync("api/hosts", CancellationToken.None)).As(CliJson.Default.HostViewArray).Select(h => h.Id).ToArray());

    private string[] Ask(CompletionContext context, Func<FabricClient, Task<string[]>> ask)
    {
        try
        {
            using var http = new HttpClient(console.HttpHandler(), disposeHandler: true) { Timeout = Bound };
            var api = new FabricClient(http, cli.ServerOf(context.ParseResult));
            var task = Task.Run(() => ask(api));
            return task.Wait(Bound) ? task.Result : [];
        }
        catch (Exception ex) when (ex is AggregateException or CliUsageException or FabricApiException or FabricUnreachableException or HttpRequestException or TaskCanceledException)
        {
            return [];
        }
    }
}
