namespace Fabric.Cli.Tests;

/// <summary>
/// fabricctl on a real fabric with traffic: a port mirrored to pcap that tshark reads (the published
/// executable piped into <c>tshark -r -</c>, as an operator would), a frame traced to the VTEP the
/// real frame takes, the agent's counters, and the MACs the fabric learned.
/// </summary>
[Collection(LabCollection.Name)]
[Trait("Category", "Ops")]
public sealed class LabTests(LabFixture lab)
{
    private readonly CliRun _cli = lab.Cli();

    private string VmIp(int host) => lab.Fabric.Lab.VmIp(host, 1);

    private string VmMac(int host) => lab.Fabric.Lab.VmMac(host, 1);

    private Task PingAsync() => Shell.InNamespaceAsync(lab.Fabric.Lab.VmNamespace(1, 1), $"ping -c 1 -W 1 {VmIp(2)}");

    [Fact]
    public async Task Mirror_to_stdout_piped_into_tshark_shows_both_directions_of_a_ping()
    {
        await PublishedCli.PathAsync();
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var capture = PublishedCli.RunAsync(
            """ "$FABRICCTL" mirror --host h2 --port vm1 -w - -c 6 | tshark -r - -Y icmp -T fields -e ip.src -e ip.dst -e icmp.type; echo "pipeline=${PIPESTATUS[0]},${PIPESTATUS[1]}" """,
            lab.Silo.BaseAddress, TimeSpan.FromSeconds(60), "tshark", "dumpcap");

        // The capture runs once the agent started the mirror; ping until six frames came through.
        while (!capture.IsCompleted && !bound.IsCancellationRequested)
        {
            await PingAsync();
        }

        var result = await capture;
        string[] rows = result.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.True(rows.Contains("pipeline=0,0"), result.Output);
        Assert.True(rows.Contains($"{VmIp(1)}\t{VmIp(2)}\t8") && rows.Contains($"{VmIp(2)}\t{VmIp(1)}\t0"), result.Output);
        Assert.Contains("fabricctl: 6 frames captured", result.Output);
    }

    [Fact]
    public async Task Mirror_without_a_file_prints_a_line_per_frame()
    {
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var capture = _cli.RunAsync(["mirror", "--host", "h1", "--port", "vm1", "--direction", "in", "-c", "2"], bound.Token);
        while (!capture.IsCompleted && !bound.IsCancellationRequested)
        {
            await PingAsync();
        }

        var result = await capture;
        Assert.True(result.ExitCode == 0, result.ToString());
        string[] frames = [.. result.Lines.Where(l => l.Length > 0)];
        Assert.Equal(2, frames.Length);
        Assert.All(frames, f => Assert.Contains($"{VmMac(1)} > ", f));
        Assert.Contains(frames, f => f.Contains($"IPv4 {VmIp(1)} > {VmIp(2)} icmp", StringComparison.Ordinal) || f.Contains($"ARP who-has {VmIp(2)} tell {VmIp(1)}", StringComparison.Ordinal));
        Assert.Contains("fabricctl: 2 frames captured", result.Error);
    }

    [Fact]
    public async Task A_traced_ping_is_forwarded_to_the_other_hosts_vtep()
    {
        await Eventually.WaitAsync(async () =>
        {
            await PingAsync();
            return (await _cli.RunAsync("fdb", "show", LabFixture.Vni.ToString(System.Globalization.CultureInfo.InvariantCulture))).Out.Contains(VmMac(2), StringComparison.Ordinal);
        }, TimeSpan.FromSeconds(30), "h2-vm1's MAC in the fabric's FDB");

        var trace = await _cli.RunAsync("trace", "--host", "h1", "--port", "vm1", "--src-mac", VmMac(1), "--dst-mac", VmMac(2), "--src-ip", VmIp(1), "--dst-ip", VmIp(2));

        Assert.True(trace.ExitCode == 0, trace.ToString());
        Assert.Equal($"host h1, port vm1, vni {LabFixture.Vni}", trace.Lines[0]);
        Assert.Contains("result: forwarded", trace.Lines);
        Assert.Contains(trace.Lines, l => SiloTests.Words(l) is ["vtep", var vtep, var vni, "-", "no"] && vtep == lab.Fabric.Lab.UnderlayIp(2) && vni == $"{LabFixture.Vni}");
    }

    [Fact]
    public async Task Host_status_counts_the_frames_of_a_port_and_the_fdb_has_both_vms()
    {
        await PingAsync();
        await PingAsync();

        var status = await _cli.RunAsync("host", "status", "h1");
        Assert.True(status.ExitCode == 0, status.ToString());
        var port = SiloTests.Words(SiloTests.Row(status, "vm1 no"));
        Assert.True(long.Parse(port[3], System.Globalization.CultureInfo.InvariantCulture) > 0, $"vm1 received nothing:\n{status.Out}");

        var fdb = await _cli.RunAsync("fdb", "show", $"{LabFixture.Vni}");
        Assert.Equal(["h1", "vm1", lab.Fabric.Lab.UnderlayIp(1)], SiloTests.Words(SiloTests.Row(fdb, VmMac(1)))[1..4]);
        Assert.Equal(["h2", "vm1", lab.Fabric.Lab.UnderlayIp(2)], SiloTests.Words(SiloTests.Row(fdb, VmMac(2)))[1..4]);

        var hosts = await _cli.RunAsync("host", "ls");
        Assert.Equal(["h1", "yes", lab.Fabric.Lab.UnderlayIp(1)], SiloTests.Words(SiloTests.Row(hosts, "h1"))[..3]);
        Assert.Equal(["h2", "yes", lab.Fabric.Lab.UnderlayIp(2)], SiloTests.Words(SiloTests.Row(hosts, "h2"))[..3]);
    }
}
