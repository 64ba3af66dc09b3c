using System.Diagnostics;
using System.Net;

namespace Fabric.Chaos.Tests;

public sealed partial class ChaosTests
{
    /// <summary>Case 1: kill -9 a silo every 20 s (3 kills, ~60 s) under a 10 ms ping; each restarted right after.</summary>
    [Fact]
    [Order(80)]
    public async Task Silo_kills_under_traffic_lose_no_frames_and_new_macs_are_unicast_again()
    {
        const string Case = "1 silo kill under traffic";
        const int Kills = 3;
        var interval = TimeSpan.FromSeconds(20);
        Ping? ping = null;
        try
        {
            ping = Ping.Start(fabric.VmNamespace(1, 1), fabric.VmIp(2, 1), 0.01);
            await ping.WaitRepliesAsync(100);
            var relearning = new List<Task<double>>();
            for (int k = 0; k < Kills; k++)
            {
                var round = Stopwatch.StartNew();
                int index = k % fabric.Silos.Count;
                fabric.KillSilo(index);
                fabric.StartSilo(index);

                // A MAC nobody has seen talks right after the kill: how long until the other hosts forward
                // to it unicast? Measured in the background (up to 60 s) while the kills go on every 20 s.
                string mac = $"02:c1:00:00:00:{k + 1:x2}";
                int kill = k + 1, silo = index + 1;
                var sentAt = Stopwatch.StartNew();
                await RawFrames.SendAsync(fabric.WorkDir, fabric.VmNamespace(2, 2), "flap", 1, mac);
                relearning.Add(MeasureRelearnAsync(mac, kill, silo, sentAt));
                if (k < Kills - 1 && interval - round.Elapsed is { Ticks: > 0 } rest)
                {
                    await Task.Delay(rest);
                }
            }

            await fabric.WaitSilosHealthyAsync(TimeSpan.FromSeconds(90));
            var relearn = await Task.WhenAll(relearning);
            var summary = await ping.StopAsync();
            Report(Case, $"{Kills} kills in {Kills * interval.TotalSeconds:F0} s (shortened from 6 in 120 s); ping h1-vm1→h2-vm1 every 10 ms: {summary} (goal 0 lost); newly learned MAC unicast again after {string.Join(", ", relearn.Select(r => double.IsInfinity(r) ? "never (60 s)" : $"{r:F1} s"))}");
            // Goal 0 lost (met in the runs since the half-cleared-tables fix in ClusterSync; the figure is
            // reported). Asserted: under 1 % and no gap of a second, which the 7.9 s gap of that bug broke,
            // leaving room for scheduling noise on a 2-core machine that restarts a silo meanwhile.
            Assert.True(summary.LostWithin <= summary.Transmitted / 100 && summary.MaxGapMs < 1000, $"established flow hurt by silo kills: {summary}\n" + fabric.Diagnostics());

            // A MAC table that lived on the killed silo comes back as a new activation without
            // observers; agents renew their subscriptions when the heartbeat answer shows the
            // membership changed (silo declared dead in ~2-4 s), not at the 20 s periodic refresh.
            Assert.True(relearn.All(r => r <= 10), "a new MAC was not unicast within 10 s of a kill:\n" + fabric.Diagnostics());
        }
        finally
        {
            ping?.Dispose();
            await RestoreProcessesAsync();
        }
    }

    /// <summary>Case 2: every silo down for 15 s: the data plane forwards on its cache, a new VM is reachable by flooding, agents re-sync.</summary>
    [Fact]
    [Order(90)]
    public async Task With_every_silo_down_established_flows_and_a_new_vm_keep_working_and_agents_resync()
    {
        const string Case = "2 control plane down";
        var outage = TimeSpan.FromSeconds(15);
        string newNs = $"{fabric.Prefix}-h{ChaosFabric.SpareHost}-vm9";
        const string NewMac = "02:c2:00:00:00:29";
        const string NewIp = "192.168.100.29";
        Ping? ping = null;
        bool moved = false;
        try
        {
            ping = Ping.Start(fabric.VmNamespace(1, 1), fabric.VmIp(2, 1), 0.01);
            await ping.WaitRepliesAsync(100);
            var down = Stopwatch.StartNew();
            for (int i = 0; i < fabric.Silos.Count; i++)
            {
                fabric.KillSilo(i);
            }

            // A VM that appears during the outage: h2's spare port's peer in a namespace of its own.
            string hostNs = fabric.HostNamespace(ChaosFabric.SpareHost);
            var add = await Shell.RunAsync("ip", ["netns", "add", newNs], TimeSpan.FromSeconds(10));
            Assert.True(add.ExitCode == 0, add.Output);
            await Shell.CheckedAsync(hostNs, $"ip link set {ChaosFabric.NewVmPort}-vm netns {newNs}");
            moved = true;
            await Shell.CheckedAsync(newNs, $"ip link set {ChaosFabric.NewVmPort}-vm name eth0 && ip link set eth0 address {NewMac} mtu 1450 && ethtool -K eth0 tx off tso off gso off >/dev/null 2>&1; ip addr add {NewIp}/24 dev eth0 && ip link set eth0 up && ip link set lo up");
            await Task.Delay(500);
            var fresh = await Shell.InNamespaceAsync(newNs, $"ping -c 5 -i 0.2 -W 1 {fabric.VmIp(3, 1)}");
            var freshBack = await Shell.InNamespaceAsync(fabric.VmNamespace(1, 3), $"ping -c 5 -i 0.2 -W 1 {NewIp}");
            if (outage - down.Elapsed is { Ticks: > 0 } rest)
            {
                await Task.Delay(rest);
            }

            double outageSeconds = down.Elapsed.TotalSeconds;
            var back = Stopwatch.StartNew();
            for (int i = 0; i < fabric.Silos.Count; i++)
            {
                fabric.StartSilo(i);
            }

            await fabric.WaitSilosHealthyAsync(TimeSpan.FromSeconds(120));
            double healthy = back.Elapsed.TotalSeconds;
            var summary = await ping.StopAsync();

            // Re-synced: every live MAC in the MAC tables at its host, both flood lists full, every agent's table has the new VM.
            var live = new Dictionary<string, (long Vni, int Host)>();
            for (int h = 1; h <= ChaosFabric.Hosts; h++)
            {
                live[fabric.VmMac(h, 1)] = (ChaosFabric.WebVni, h);
                live[fabric.VmMac(h, 2)] = (ChaosFabric.DbVni, h);
                live[fabric.VmMac(h, 3)] = (ChaosFabric.WebVni, h);
            }

            live[NewMac] = (ChaosFabric.WebVni, ChaosFabric.SpareHost);
            if ((await Shell.InNamespaceAsync(fabric.HostNamespace(ChaosFabric.SpareHost), $"ip link show {ChaosFabric.SparePort}-vm")).ExitCode != 0)
            {
                live[fabric.VmMac(1, 3)] = (ChaosFabric.WebVni, ChaosFabric.SpareHost); // moved there by the VM move case
            }

            var hostIds = new Dictionary<int, string> { [1] = "h1", [2] = "h2", [3] = "h3" };
            string missing = string.Empty;
            bool resynced = true;
            string why = string.Empty;
            var resyncWait = Eventually.WaitAsync(async () =>
            {
                var web = await fabric.MacTableAsync(ChaosFabric.WebVni);
                var db = await fabric.MacTableAsync(ChaosFabric.DbVni);
                var absent = live.Where(kv =>
                {
                    var table = kv.Value.Vni == ChaosFabric.WebVni ? web : db;
                    return !table.TryGetValue(kv.Key, out var e) || e.GetProperty("hostId").GetString() != hostIds[kv.Value.Host];
                }).Select(kv => kv.Key).ToList();
                missing = string.Join(",", absent);
                return absent.Count == 0 && await fabric.RemoteMacAsync(1, ChaosFabric.WebVni, NewMac) == fabric.UnderlayIp(ChaosFabric.SpareHost);
            }, TimeSpan.FromSeconds(45), "every live MAC back in the MAC tables", TimeSpan.FromMilliseconds(100));
            try
            {
                await resyncWait;
                await fabric.WaitConvergedAsync(TimeSpan.FromSeconds(30));
            }
            catch (TimeoutException ex)
            {
                resynced = false;
                why = ex.Message;
            }

            double resync = back.Elapsed.TotalSeconds;

            Report(Case, $"all 3 silos kill -9 for {outageSeconds:F1} s (shortened from 30 s); ping h1-vm1→h2-vm1 every 10 ms across outage and restart: {summary} (goal 0 lost)");
            Report(Case, $"VM appearing during the outage ({NewMac} on h2): its ping to h3-vm1 {(fresh.ExitCode == 0 ? "answered" : "FAILED")}, h1-vm3's ping to it {(freshBack.ExitCode == 0 ? "answered" : "FAILED")} ({Received(fresh.Output)}/5, {Received(freshBack.Output)}/5)");
            Report(Case, resynced
                ? $"silos restarted, all healthy after {healthy:F1} s; full re-sync (every live MAC at its host in both MAC tables, flood lists full, h1 forwards to the new VM) {resync:F1} s after restart, {resync - healthy:F1} s after healthy"
                : $"silos restarted, all healthy after {healthy:F1} s; NO re-sync within 45 s ({why}; MACs missing at last successful read: {(missing.Length == 0 ? "-" : missing)}): re-activated grains cannot read their state (IPAddress grain-storage bug; silos could not re-activate: {fabric.UnreadableGrains()})");
            Assert.True(resynced, $"no re-sync: {why}\n{fabric.Diagnostics()}");
            Assert.True(fresh.ExitCode == 0, $"a VM appearing during the outage could not reach h3-vm1:\n{fresh.Output}");
            Assert.True(freshBack.ExitCode == 0, $"a VM appearing during the outage was not reachable from h1-vm3:\n{freshBack.Output}");
            Assert.Equal(0, summary.LostWithin);
        }
        finally
        {
            ping?.Dispose();
            if (moved)
            {
                string spare = $"{ChaosFabric.NewVmPort}-vm";
                await Shell.InNamespaceAsync(newNs, $"ip link show {spare} >/dev/null 2>&1 || {{ ip link set eth0 down; ip link set eth0 name {spare}; }}; ip link set {spare} down; ip link set {spare} netns {fabric.HostNamespace(ChaosFabric.SpareHost)}");
                await Shell.RunAsync("ip", ["netns", "del", newNs], TimeSpan.FromSeconds(10));
            }

            await RestoreProcessesAsync();
        }
    }

    private async Task<double> MeasureRelearnAsync(string mac, int kill, int silo, Stopwatch clock)
    {
        const string Case = "1 silo kill under traffic";
        try
        {
            await Eventually.WaitAsync(async () => await fabric.RemoteMacAsync(1, ChaosFabric.DbVni, mac) == fabric.UnderlayIp(2)
                && await fabric.RemoteMacAsync(3, ChaosFabric.DbVni, mac) == fabric.UnderlayIp(2), TimeSpan.FromSeconds(60), $"h1 and h3 forward {mac} to h2", TimeSpan.FromMilliseconds(50));
            Report(Case, $"kill {kill}: silo{silo} kill -9, restarted; new MAC {mac} (sent once from h2-vm2 right after the kill) unicast on h1 and h3 after {clock.Elapsed.TotalSeconds:F2} s (status files, 1 s granularity)");
            return clock.Elapsed.TotalSeconds;
        }
        catch (TimeoutException)
        {
            Report(Case, $"kill {kill}: silo{silo} kill -9, restarted; new MAC {mac} NOT unicast on h1 and h3 within 60 s; silos could not re-activate: [{fabric.UnreadableGrains()}] (IPAddress grain-storage bug when non-empty)");
            return double.PositiveInfinity;
        }
    }

    private static string Received(string pingOutput)
        => System.Text.RegularExpressions.Regex.Match(pingOutput, @"(\d+) received") is { Success: true } m ? m.Groups[1].Value : "?";
}
