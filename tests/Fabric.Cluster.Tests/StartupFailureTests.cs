using System.Diagnostics;
using Xunit.Abstractions;

namespace Fabric.Cluster.Tests;

/// <summary>A silo process started in cluster mode against storage it cannot reach.</summary>
[Trait("Category", "Cluster")]
public sealed class StartupFailureTests(ITestOutputHelper output)
{
    private static readonly TimeSpan FewSeconds = TimeSpan.FromSeconds(15);

    [Fact]
    public async Task A_silo_whose_table_endpoint_is_closed_exits_non_zero_within_seconds_naming_the_setting()
    {
        var closedPort = FreePorts.Tcp();
        _ = BuiltOutputs.SiloDll; // the private copy of the silo's build output is made before the clock starts
        var clock = Stopwatch.StartNew();
        await using var silo = SiloProcess.Start("unreachable", new Dictionary<string, string>
        {
            ["Fabric:Cluster:Mode"] = "AzureTable",
            ["Fabric:Cluster:ClusterId"] = "unreachable-" + Guid.NewGuid().ToString("N")[..8],
            ["Fabric:Storage:ConnectionString"] = Azurite.DevelopmentConnectionString(closedPort),
        });

        // Bounded generously beyond the claim, so a hang fails the test rather than the run.
        var exited = await silo.WaitForExitAsync(TimeSpan.FromSeconds(60));
        var elapsed = clock.Elapsed;
        output.WriteLine($"exited={exited} code={(exited ? silo.ExitCode : -1)} after {elapsed.TotalSeconds:0.00} s");
        output.WriteLine(silo.Output.Text.Split('\n').FirstOrDefault(l => l.Contains("FabricStorageUnavailableException", StringComparison.Ordinal)) ?? "(no exception line)");

        Assert.True(exited, $"the silo still runs after {elapsed.TotalSeconds:0} s:\n{silo.Tail()}");
        Assert.NotEqual(0, silo.ExitCode);
        Assert.True(elapsed < FewSeconds, $"the silo took {elapsed.TotalSeconds:0.0} s to give up");
        Assert.Contains(
            $"Fabric:Storage:ConnectionString: could not reach the table endpoint http://127.0.0.1:{closedPort}/devstoreaccount1 (connection refused)",
            silo.Output.Text,
            StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_silo_in_cluster_mode_without_a_connection_string_exits_naming_the_setting()
    {
        await using var silo = SiloProcess.Start("no-connection-string", new Dictionary<string, string>
        {
            ["Fabric:Cluster:Mode"] = "AzureTable",
        });

        Assert.True(await silo.WaitForExitAsync(TimeSpan.FromSeconds(30)), silo.Tail());
        Assert.NotEqual(0, silo.ExitCode);
        Assert.Contains("Fabric:Storage:ConnectionString is required when Fabric:Cluster:Mode is AzureTable.", silo.Output.Text, StringComparison.Ordinal);
    }
}
