using System.Text.Json;

namespace Fabric.Cli.Tests;

/// <summary>
/// The published executable (one file, Native AOT) against the real silo, run with no .NET on the
/// PATH: the packaging script ships exactly this file.
/// </summary>
[Collection(SiloCollection.Name)]
[Trait("Category", "Ops")]
public sealed class PublishedTests(SiloFixture fabric)
{
    [Fact]
    public async Task The_publish_command_leaves_one_executable_file()
    {
        string executable = await PublishedCli.PathAsync();

        Assert.Equal(["fabricctl"], Directory.GetFiles(Path.GetDirectoryName(executable)!).Select(Path.GetFileName));
    }

    [Fact]
    public async Task The_published_executable_sets_and_lists_and_prints_json_without_dotnet()
    {
        var run = await PublishedCli.RunAsync("""
            command -v dotnet && exit 99
            "$FABRICCTL" switch set dvs-pub --mtu 1450 &&
            "$FABRICCTL" portgroup set pub --switch dvs-pub --vni 6901 --access-vlan 42 --subnet 10.69.0.0/24 --gateway 10.69.0.1 --routed &&
            "$FABRICCTL" portgroup ls --switch dvs-pub | grep '^dvs-pub' &&
            "$FABRICCTL" switch show dvs-pub -o json
            """, fabric.Silo.BaseAddress);

        Assert.True(run.ExitCode == 0, run.Output);
        string[] lines = run.Output.Split('\n');
        string row = Assert.Single(lines, l => l.StartsWith("dvs-pub ", StringComparison.Ordinal));
        Assert.Equal(["dvs-pub", "pub", "6901", "access", "42", "overlay", "10.69.0.0/24", "10.69.0.1", "routed"], row.Split(' ', StringSplitOptions.RemoveEmptyEntries));
        Assert.DoesNotContain('\u001b', run.Output); // piped: no colour codes
        string json = run.Output[run.Output.IndexOf('{', StringComparison.Ordinal)..];
        Assert.Equal("dvs-pub", JsonDocument.Parse(json).RootElement.GetProperty("name").GetString());
    }

    [Fact]
    public async Task The_published_executable_exits_1_on_an_api_error_and_2_on_bad_usage()
    {
        var run = await PublishedCli.RunAsync("""
            "$FABRICCTL" switch set dvs-pub-bad --mtu 1450 >/dev/null
            "$FABRICCTL" portgroup set bad --switch dvs-pub-bad --vni 99999999 2>&1; echo "exit=$?"
            "$FABRICCTL" portgroup frobnicate 2>/dev/null; echo "exit=$?"
            "$FABRICCTL" --server http://127.0.0.1:1 switch ls 2>&1; echo "exit=$?"
            """, fabric.Silo.BaseAddress);

        string[] lines = run.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 5, run.Output);
        Assert.StartsWith("fabricctl: 400 vni: ", lines[0]);
        Assert.Equal("exit=1", lines[1]);
        Assert.Equal("exit=2", lines[2]);
        Assert.StartsWith("fabricctl: cannot reach the fabric server at http://127.0.0.1:1/ (connection refused)", lines[3]);
        Assert.Equal("exit=1", lines[4]);
    }

    [Fact]
    public async Task Bash_completion_from_the_published_executable_offers_commands_and_the_servers_switches()
    {
        var run = await PublishedCli.RunAsync("""
            source <("$FABRICCTL" completion bash)
            fabricctl() { "$FABRICCTL" "$@"; }
            "$FABRICCTL" switch set dvs-bash --mtu 1450 >/dev/null
            COMP_WORDS=(fabricctl sw); COMP_CWORD=1; COMP_LINE="fabricctl sw"; COMP_POINT=${#COMP_LINE}
            COMP_WORDS[0]="$FABRICCTL"; _fabricctl_complete; echo "words: ${COMPREPLY[*]}"
            COMP_WORDS=("$FABRICCTL" switch show dvs-bas); COMP_CWORD=3; COMP_LINE="fabricctl switch show dvs-bas"; COMP_POINT=${#COMP_LINE}
            _fabricctl_complete; echo "switches: ${COMPREPLY[*]}"
            """, fabric.Silo.BaseAddress);

        Assert.True(run.ExitCode == 0, run.Output);
        Assert.Contains("words: switch", run.Output);
        Assert.Contains("switches: dvs-bash", run.Output);
    }
}
