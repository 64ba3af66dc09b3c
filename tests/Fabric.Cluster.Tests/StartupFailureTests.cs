using System.Diagnostics;
using Xunit.Abstractions;

namespace Fabric.Cluster.Tests;

/// <summary>
/// A silo process started in cluster mode against storage it cannot use: the README's promise is that
/// it stops within seconds, exit code 1, with one line naming the setting and the endpoint, no stack trace.
/// </summary>
[Trait("Category", "Cluster")]
public sealed class StartupFailureTests(AzuriteFixture azurite, ITestOutputHelper output) : IClassFixture<AzuriteFixture>
{
    private static readonly TimeSpan FewSeconds = TimeSpan.FromSeconds(15);

    [Fact]
    public async Task A_silo_whose_table_endpoint_is_closed_exits_with_code_1_within_seconds_naming_the_setting_and_endpoint()
    {
        var closedPort = AzuriteFixture.FreeLoopbackPort();

        var (silo, elapsed) = await StartAndWaitForExitAsync("unreachable", AzuriteFixture.DevelopmentConnectionString(closedPort));
        await using var _ = silo;

        AssertFailedFast(silo, elapsed,
            $"fabric-silo: cannot start: Fabric:Storage:ConnectionString: could not reach the table endpoint http://127.0.0.1:{closedPort}/devstoreaccount1 (connection refused) while creating table 'FabricMembership'");
    }

    [Fact]
    public async Task A_silo_whose_account_key_is_refused_exits_with_code_1_within_seconds_naming_the_setting_and_endpoint()
    {
        var wrongKey = Convert.ToBase64String(new byte[64]);
        var connectionString = azurite.ConnectionString.Replace(AzuriteFixture.AccountKey, wrongKey, StringComparison.Ordinal);

        var (silo, elapsed) = await StartAndWaitForExitAsync("wrong-key", connectionString);
        await using var _ = silo;

        AssertFailedFast(silo, elapsed,
            $"fabric-silo: cannot start: Fabric:Storage:ConnectionString: could not reach the table endpoint http://127.0.0.1:{azurite.Port}/devstoreaccount1 (HTTP 403");
        Assert.Contains("the account name or key in the connection string was refused", silo.Output.Text, StringComparison.Ordinal);
        Assert.DoesNotContain(wrongKey, silo.Output.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_silo_in_cluster_mode_without_a_connection_string_exits_naming_the_setting()
    {
        await using var silo = SiloProcess.Start("no-connection-string", new Dictionary<string, string>
        {
            ["Fabric:Cluster:Mode"] = "AzureTable",
        });

        Assert.True(await silo.WaitForExitAsync(TimeSpan.FromSeconds(30)), silo.Tail());
        Assert.Equal(1, silo.ExitCode);
        Assert.Contains("Fabric:Storage:ConnectionString is required when Fabric:Cluster:Mode is AzureTable.", silo.Output.Text, StringComparison.Ordinal);
    }

    private async Task<(SiloProcess Silo, TimeSpan Elapsed)> StartAndWaitForExitAsync(string name, string connectionString)
    {
        _ = BuiltOutputs.SiloDll; // the private copy of the silo's build output is made before the clock starts
        var clock = Stopwatch.StartNew();
        var silo = SiloProcess.Start(name, new Dictionary<string, string>
        {
            ["Fabric:Cluster:Mode"] = "AzureTable",
            ["Fabric:Cluster:ClusterId"] = name + "-" + Guid.NewGuid().ToString("N")[..8],
            ["Fabric:Storage:ConnectionString"] = connectionString,
        });

        // Bounded generously beyond the claim, so a hang fails the test rather than the run.
        var exited = await silo.WaitForExitAsync(TimeSpan.FromSeconds(60));
        var elapsed = clock.Elapsed;
        output.WriteLine($"exited={exited} code={(exited ? silo.ExitCode : -1)} after {elapsed.TotalSeconds:0.00} s");
        output.WriteLine(silo.Output.Text);
        Assert.True(exited, $"the silo still runs after {elapsed.TotalSeconds:0} s:\n{silo.Tail()}");
        return (silo, elapsed);
    }

    private static void AssertFailedFast(SiloProcess silo, TimeSpan elapsed, string expectedLineStart)
    {
        Assert.Equal(1, silo.ExitCode);
        Assert.True(elapsed < FewSeconds, $"the silo took {elapsed.TotalSeconds:0.0} s to give up");
        var lines = silo.Output.Text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.Contains(lines, l => l.StartsWith(expectedLineStart, StringComparison.Ordinal));

        // One line, not a crash: no unhandled exception, no stack frames.
        Assert.DoesNotContain(lines, l => l.StartsWith("at ", StringComparison.Ordinal));
        Assert.DoesNotContain("Unhandled exception", silo.Output.Text, StringComparison.Ordinal);
    }
}
