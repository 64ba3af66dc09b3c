using Xunit.Abstractions;

namespace Fabric.Chaos.Tests;

/// <summary>
/// Chaos, failover and bad input on one shared fabric (<see cref="ChaosFabric"/>). The cases run in
/// <see cref="OrderAttribute"/> order: harmless first, destructive later, and each destructive case
/// brings the fabric back (every silo, agent and Azurite running, flood lists full) before it ends,
/// also when it fails.
/// </summary>
[Collection(ChaosCollection.Name)]
[Trait("Category", "Chaos")]
[TestCaseOrderer(PriorityOrderer.Name, PriorityOrderer.Assembly)]
public sealed partial class ChaosTests(ChaosFabric fabric, ITestOutputHelper output)
{
    private void Report(string caseName, string figure) => Results.Report(output, caseName, figure);

    /// <summary>Every process running again and every silo healthy (no convergence check: for the last cases, which the grain-state bug leaves unconverged).</summary>
    private async Task RestoreProcessesAsync()
    {
        fabric.Azurite?.Resume();
        for (int i = 0; i < fabric.Silos.Count; i++)
        {
            if (fabric.Silos[i] is null or { HasExited: true })
            {
                fabric.StartSilo(i);
            }
        }

        for (int host = 1; host <= ChaosFabric.Hosts; host++)
        {
            if (fabric.Agents[host] is null or { HasExited: true })
            {
                fabric.StartAgent(host);
            }
        }

        await fabric.WaitSilosHealthyAsync(TimeSpan.FromSeconds(90));
    }

    /// <summary>After a destructive case: everything restarted that is not running, and converged again.</summary>
    private async Task RestoreAsync()
    {
        await RestoreProcessesAsync();
        await fabric.WaitConvergedAsync(TimeSpan.FromSeconds(60));
    }
}
