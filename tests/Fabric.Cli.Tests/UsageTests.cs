namespace Fabric.Cli.Tests;

/// <summary>
/// What fabricctl does with a command line it cannot run: exit code 2 and one plain line naming
/// the problem, before any call to a server (none runs here: FABRIC_SERVER points at a closed port).
/// </summary>
[Trait("Category", "Ops")]
public sealed class UsageTests
{
    private readonly CliRun _cli = new() { Server = new Uri($"http://127.0.0.1:{FreePorts.Tcp()}") };

    [Theory]
    [InlineData("nonsense")]
    [InlineData("switch", "lss")]
    [InlineData("switch")]
    [InlineData("portgroup", "ls", "--bogus")]
    [InlineData("port", "ls")]
    [InlineData("switch", "ls", "-o", "yaml")]
    [InlineData("switch", "set", "dvs", "--mtu", "big")]
    [InlineData("switch", "set", "dvs", "--mtu", "1450", "--timeout", "soon")]
    [InlineData("switch", "rm", "dvs", "--timeout", "0s")]
    [InlineData("mirror", "--host", "h1", "--port", "vm1", "--direction", "sideways")]
    [InlineData("mirror", "--host", "h1", "--port", "vm1", "-c", "0")]
    [InlineData("completion", "fish")]
    [InlineData("trace", "--port", "vm1")]
    public async Task A_command_line_that_cannot_run_exits_2_with_fabricctl_lines_on_stderr(params string[] args)
    {
        var result = await _cli.RunAsync(args);

        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.NotEmpty(result.ErrorLines);
        Assert.All(result.ErrorLines, line => Assert.True(line.StartsWith("fabricctl: ", StringComparison.Ordinal) || line.StartsWith("Try 'fabricctl", StringComparison.Ordinal), line));
        Assert.Empty(_cli.Requests);
    }

    [Theory]
    [InlineData("options that do not go together", "fdb", "set", "5001", "02:00:00:00:00:01", "--vtep", "10.0.0.9", "--host", "h1")]
    [InlineData("a static MAC needs a place", "fdb", "set", "5001", "02:00:00:00:00:01")]
    [InlineData("a capture needs a port", "mirror", "--host", "h1")]
    [InlineData("a server that is no URL", "switch", "ls", "--server", "ftp://silo")]
    [InlineData("a trace needs a frame", "trace", "--host", "h1", "--port", "vm1")]
    [InlineData("ARP and IPv4 at once", "trace", "--host", "h1", "--port", "vm1", "--src-mac", "02:00:00:00:00:01", "--arp", "request", "--dst-ip", "10.0.0.2")]
    [InlineData("a port forward that is no spec", "portgroup", "set", "nat", "--switch", "dvs", "--vni", "5004", "--port-forward", "tcp:8080")]
    [InlineData("a body file that is not there", "switch", "set", "dvs", "--file", "/nonexistent/body.json")]
    public async Task Usage_found_when_running_is_exit_2_with_one_line(string what, params string[] args)
    {
        var result = await _cli.RunAsync(args);

        Assert.True(result.ExitCode == 2, $"{what}: {result}");
        var line = Assert.Single(result.ErrorLines);
        Assert.StartsWith("fabricctl: ", line);
        Assert.Empty(_cli.Requests);
    }

    [Fact]
    public async Task A_server_that_refuses_connections_is_exit_1_naming_the_server()
    {
        int closed = FreePorts.Tcp();

        var result = await _cli.RunAsync("switch", "ls", "--server", $"http://127.0.0.1:{closed}");

        Assert.Equal(1, result.ExitCode);
        var line = Assert.Single(result.ErrorLines);
        Assert.Contains($"http://127.0.0.1:{closed}/", line);
        Assert.Contains("connection refused", line);
        Assert.Equal(string.Empty, result.Out);
    }

    [Fact]
    public async Task Help_lists_every_noun_and_exits_0()
    {
        var result = await _cli.RunAsync("--help");

        Assert.Equal(0, result.ExitCode);
        foreach (string noun in new[] { "switch", "portgroup", "segment", "fdb", "vtep", "host", "port", "ipam", "trace", "mirror", "completion" })
        {
            Assert.Contains($"  {noun}", result.Out);
        }
    }

    [Theory]
    [InlineData("switch", "set")]
    [InlineData("portgroup", "set")]
    [InlineData("portgroup", "rm")]
    [InlineData("port", "set")]
    [InlineData("port", "rm")]
    [InlineData("mirror", "session", "set")]
    public async Task Every_write_that_the_barrier_covers_takes_wait_and_timeout(params string[] command)
    {
        var result = await _cli.RunAsync([.. command, "--help"]);

        Assert.Equal(0, result.ExitCode);
        Assert.Contains("--wait", result.Out);
        Assert.Contains("--timeout", result.Out);
    }

    [Theory]
    [InlineData("bash", "complete -o default -F _fabricctl_complete fabricctl")]
    [InlineData("zsh", "compdef _fabricctl fabricctl")]
    public async Task Completion_prints_a_script_that_asks_fabricctl_for_suggestions(string shell, string registers)
    {
        var result = await _cli.RunAsync("completion", shell);

        Assert.Equal(0, result.ExitCode);
        Assert.Contains(registers, result.Out);
        Assert.Contains("[suggest:", result.Out);
    }

    [Theory]
    [InlineData("fabricctl sw", "switch")]
    [InlineData("fabricctl portgroup ", "set")]
    [InlineData("fabricctl mirror session ", "ls")]
    [InlineData("fabricctl switch ls -o ", "json")]
    [InlineData("fabricctl mirror --direction ", "both")]
    public async Task The_suggest_directive_completes_commands_and_fixed_values(string line, string expected)
    {
        var result = await _cli.RunAsync($"[suggest:{line.Length}]", line);

        Assert.Equal(0, result.ExitCode);
        Assert.Contains(expected, result.Lines);
    }
}
