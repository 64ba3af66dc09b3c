using System.CommandLine;
using Fabric.Cli.Output;

namespace Fabric.Cli.Completion;

/// <summary>
/// <c>fabricctl completion bash|zsh</c>: prints a script for the shell to source. The script asks
/// fabricctl itself for completions through System.CommandLine's <c>[suggest:POSITION]</c> directive
/// with the line typed so far, so commands, options, fixed values and the server's switch, port
/// group and host names complete.
/// </summary>
internal static class CompletionCommand
{
    /// <summary>The bash script: <c>source &lt;(fabricctl completion bash)</c>.</summary>
    public const string Bash = """
        # fabricctl completion for bash: source <(fabricctl completion bash)
        _fabricctl_complete() {
            local cur="${COMP_WORDS[COMP_CWORD]}" IFS=$'\n'
            local candidates
            candidates=$("${COMP_WORDS[0]}" "[suggest:${COMP_POINT}]" "${COMP_LINE}" 2>/dev/null)
            COMPREPLY=($(compgen -W "${candidates}" -- "${cur}"))
        }
        complete -o default -F _fabricctl_complete fabricctl
        """;

    /// <summary>The zsh script: <c>source &lt;(fabricctl completion zsh)</c>, after <c>compinit</c>.</summary>
    public const string Zsh = """
        # fabricctl completion for zsh: source <(fabricctl completion zsh)  (after compinit)
        _fabricctl() {
            local -a candidates
            candidates=("${(@f)$(${words[1]} "[suggest:${CURSOR}]" "${BUFFER}" 2>/dev/null)}")
            compadd -a candidates
        }
        compdef _fabricctl fabricctl
        """;

    public static Command Build(FabricCli cli)
    {
        var shell = new Argument<string>("SHELL") { Description = "bash or zsh" };
        shell.AcceptOnlyFromAmong("bash", "zsh");
        var command = new Command("completion", "Print a shell completion script: source <(fabricctl completion bash)") { shell };
        return cli.Runs(command, run =>
        {
            var writer = run.Console.Out.Profile.Out.Writer;
            writer.WriteLine(run.Get(shell) == "zsh" ? Zsh : Bash);
            writer.Flush();
            return Task.FromResult(FabricCli.Success);
        });
    }
}
