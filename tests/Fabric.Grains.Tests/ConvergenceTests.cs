using System.Diagnostics;
using Fabric.Grains.Tests.Infrastructure;

namespace Fabric.Grains.Tests;

/// <summary>
/// Issue 13, item 5: what the convergence barrier (<c>?wait=applied</c>) rests on. The switch hints
/// subscribed agents after each configuration change; the host grain answers a wait for a generation
/// (or a port report) when the agent's heartbeat (or report) brings it, or when the host can no
/// longer bring it (declared dead), or when the wait's bound passes.
/// </summary>
[Collection(ClusterCollection.Name)]
[Trait("Category", "Ops")]
public sealed class ConvergenceTests(ClusterFixture fixture) : ClusterTest(fixture)
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task A_switch_hints_its_subscribers_with_the_new_version_after_each_configuration_change()
    {
        string sw = await NewSwitchAsync();
        var recorder = new SwitchRecorder();
        var reference = Fixture.Client.CreateObjectReference<ISwitchObserver>(recorder);
        var read = await Switch(sw).SubscribeAsync(reference);
        Assert.NotNull(read);

        var config = await Switch(sw).SetPortGroupAsync("web", new PortGroupSpec(Names.NextVni()));
        Assert.Equal(new Hint(sw, config.Version), await recorder.Hints.WaitForAsync(h => h.Version == config.Version, Bound));

        config = await Switch(sw).ConfigureAsync(new SwitchSettings(9000));
        Assert.Equal(new Hint(sw, config.Version), await recorder.Hints.WaitForAsync(h => h.Version == config.Version, Bound));

        // A host's ports attaching is not a configuration change: no version of its own, no hint.
        await RegisterAsync(Names.Unique("host"), sw, Vtep(1), ("vm1", "web"));
        config = await Switch(sw).ConfigureAsync(new SwitchSettings(1500));
        await recorder.Hints.WaitForAsync(h => h.Version == config.Version, Bound);
        Assert.Equal([read!.Version + 1, read.Version + 2, read.Version + 3], recorder.Hints.Items.Select(h => h.Version).Order());
        GC.KeepAlive(recorder);
    }

    [Fact]
    public async Task A_wait_for_a_generation_answers_when_the_heartbeat_reports_it_not_when_its_bound_passes()
    {
        var (sw, web, _) = await NewPortGroupAsync();
        string host = Names.Unique("host");
        await RegisterAsync(host, sw, Vtep(1), ("vm1", web));
        await Host(host).HeartbeatAsync(1);

        var clock = Stopwatch.StartNew();
        var waiting = Host(host).WaitForGenerationAsync(sw, 7, TimeSpan.FromSeconds(8));
        await Host(host).HeartbeatAsync(6); // not yet
        Assert.False(waiting.IsCompleted, "the wait answered before the generation was reported");
        await Host(host).HeartbeatAsync(7);
        var info = await waiting.WaitAsync(Bound);
        Assert.Equal(7, info!.AppliedGeneration);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"the wait took {clock.Elapsed.TotalMilliseconds:0} ms; it should answer on the heartbeat, not at its 8 s bound");

        // Already applied: at once.
        Assert.Equal(7, (await Host(host).WaitForGenerationAsync(sw, 5, TimeSpan.FromSeconds(8)).WaitAsync(TimeSpan.FromSeconds(2)))!.AppliedGeneration);
    }

    [Fact]
    public async Task A_wait_for_a_generation_that_never_comes_answers_the_host_as_it_stands_when_its_bound_passes()
    {
        var (sw, web, _) = await NewPortGroupAsync();
        string host = Names.Unique("host");
        await RegisterAsync(host, sw, Vtep(1), ("vm1", web));
        await Host(host).HeartbeatAsync(3);

        var clock = Stopwatch.StartNew();
        var info = await Host(host).WaitForGenerationAsync(sw, 4, TimeSpan.FromMilliseconds(300)).WaitAsync(Bound);
        Assert.True(clock.Elapsed >= TimeSpan.FromMilliseconds(250), $"answered after {clock.Elapsed.TotalMilliseconds:0} ms, before its 300 ms bound");
        Assert.Equal((3, true), (info!.AppliedGeneration, info.Alive));
    }

    [Fact]
    public async Task A_wait_for_a_generation_ends_when_the_host_is_declared_dead()
    {
        var (sw, web, _) = await NewPortGroupAsync();
        string host = Names.Unique("host");
        await RegisterAsync(host, sw, Vtep(1), ("vm1", web));
        await Host(host).HeartbeatAsync(1);

        // No more heartbeats: the host is declared dead after DeadAfter (2 s here), well before the 9 s bound.
        var clock = Stopwatch.StartNew();
        var info = await Host(host).WaitForGenerationAsync(sw, 2, TimeSpan.FromSeconds(9)).WaitAsync(Bound);
        Assert.False(info!.Alive);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(8), $"the wait took {clock.Elapsed.TotalMilliseconds:0} ms; it should end when the host is declared dead");
    }

    [Fact]
    public async Task A_port_request_hints_the_agent_and_a_wait_for_its_report_answers_when_the_agent_reports()
    {
        var (sw, web, _) = await NewPortGroupAsync();
        string host = Names.Unique("host");
        await RegisterAsync(host, sw, Vtep(1), ("vm1", web));
        var recorder = new HostRecorder();
        var reference = Fixture.Client.CreateObjectReference<IHostObserver>(recorder);
        await Host(host).SubscribeAsync(reference);

        var requests = await Host(host).RequestPortAsync(new RequestedPort("ctr1", web));
        Assert.Equal(new PortHint(requests.Version), await recorder.Versions.WaitForAsync(v => v.Version == requests.Version, Bound));

        var waiting = Host(host).WaitForPortReportAsync(requests.Version, TimeSpan.FromSeconds(8));
        Assert.False(waiting.IsCompleted);
        await Host(host).ReportPortRequestsAsync(requests.Version, [new PortRequestStatus("ctr1", "no such interface")]);
        var reported = await waiting.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal((requests.Version, "no such interface"), (reported.ReportedVersion, reported.Statuses.Single().Error));

        Assert.True(await Host(host).WithdrawPortRequestAsync("ctr1"));
        Assert.Equal(new PortHint(requests.Version + 1), await recorder.Versions.WaitForAsync(v => v.Version == requests.Version + 1, Bound));
        GC.KeepAlive(recorder);
    }

    // Records (reference types): DeltaRecorder tells "none yet" by null.
    private sealed record Hint(string Switch, long Version);

    private sealed record PortHint(long Version);

    private sealed class SwitchRecorder : ISwitchObserver
    {
        public DeltaRecorder<Hint> Hints { get; } = new();

        public void OnSwitchChanged(string switchName, long version) => Hints.Add(new Hint(switchName, version));
    }

    private sealed class HostRecorder : IHostObserver
    {
        public DeltaRecorder<PortHint> Versions { get; } = new();

        public void OnPortRequestsChanged(long version) => Versions.Add(new PortHint(version));
    }
}
