using System.Net;
using Xunit.Abstractions;
using static Fabric.Testing.EthernetFrames;

namespace Fabric.Lab.Tests;

/// <summary>
/// Issue 9, case 1: an IPv4 address moves with the newest claim (EVPN MAC/IP mobility, RFC 9161 §3
/// with RFC 7432 §15), and an address that keeps flipping is flagged duplicate (RFC 7432 §15.1).
/// Claims are the VMs' own ARP, sent as raw frames (gratuitous ARP as <c>arping -U</c> sends it).
/// </summary>
[Collection(L2RulesCollection.Name)]
[Trait("Category", "Lab")]
public sealed class IpBindingTests(L2RulesFixture lab, ITestOutputHelper output)
{
    private const long Web = L2RulesFixture.WebVni;
    private const long Db = L2RulesFixture.DbVni;
    private static readonly TimeSpan MoveBound = TimeSpan.FromMilliseconds(100);

    [Fact]
    public async Task An_address_that_moves_to_another_mac_is_bound_to_it_within_100_ms_and_answered_by_its_new_owner()
    {
        const string address = "192.168.100.51";
        string oldOwner = lab.VmMac(1, 1), newOwner = lab.VmMac(2, 1);
        try
        {
            // h1-vm1 takes the address and announces it; h3-vm1 resolves it to h1-vm1's MAC.
            await Shell.CheckedAsync(lab.VmNamespace(1, 1), $"ip addr add {address}/24 dev eth0");
            var first = await ClaimAsync(1, 1, Web, address);
            await Shell.CheckedAsync(lab.VmNamespace(3, 1), $"ip neigh flush all && ping -c 1 -W 2 {address}");
            Assert.Equal(oldOwner, await lab.NeighbourAsync(3, 1, address));

            // It moves: gone from h1-vm1, added on h2-vm1, which announces it and right after sends
            // an ordinary ARP request from its primary address (the claim must not be lost behind it).
            await Shell.CheckedAsync(lab.VmNamespace(1, 1), $"ip addr del {address}/24 dev eth0");
            await Shell.CheckedAsync(lab.VmNamespace(2, 1), $"ip addr add {address}/24 dev eth0");
            using var watch = new BindingWatch(lab.Fabric.Api, Web, address, b => b.Mac == newOwner && b.Sequence > first.Sequence);
            await watch.StartedAsync();
            var sent = await lab.SendAsync(2, 1, GratuitousArp(newOwner, address), ArpRequest(newOwner, lab.VmIp(2, 1), lab.VmIp(1, 1)));
            var (seenAt, moved) = await watch.ResultAsync(TimeSpan.FromSeconds(10));
            var latency = seenAt - sent[0];
            output.WriteLine($"{address} bound to h2-vm1 ({moved}) {latency.TotalMilliseconds:F0} ms after its gratuitous ARP left (API polled every ~5 ms; before: {first})");
            Assert.True(latency <= MoveBound, $"{address} moved to {newOwner} {latency.TotalMilliseconds:F0} ms after the gratuitous ARP, more than {MoveBound.TotalMilliseconds} ms");

            // h3's agent answers for it with the new MAC, and h3-vm1, its cache flushed, reaches h2-vm1.
            await Eventually.WaitAsync(async () => (await lab.Status(3).ReadAsync()).ArpBinding(Web, address) == newOwner, TimeSpan.FromSeconds(10), $"h3's agent binds {address} to {newOwner}");
            var ping = await Shell.InNamespaceAsync(lab.VmNamespace(3, 1), $"ip neigh flush all && ping -c 3 -i 0.2 -W 2 {address}");
            Assert.True(ping.ExitCode == 0, $"h3-vm1 → {address} (now on h2-vm1) failed:\n{ping.Output}");
            Assert.Equal(newOwner, await lab.NeighbourAsync(3, 1, address));
        }
        finally
        {
            await Shell.InNamespaceAsync(lab.VmNamespace(1, 1), $"ip addr del {address}/24 dev eth0");
            await Shell.InNamespaceAsync(lab.VmNamespace(2, 1), $"ip addr del {address}/24 dev eth0");
            await lab.Fabric.Api.SendAsync(HttpMethod.Delete, $"api/segments/{Web}/ips/{address}");
        }
    }

    [Fact]
    public async Task A_vm_recreated_with_the_same_address_and_a_new_mac_is_reachable_from_a_vm_that_flushed_its_cache()
    {
        // h2-vm2 talks, so its address is bound to its MAC, and h1-vm2 has it cached.
        string address = lab.VmIp(2, 2), oldMac = lab.VmMac(2, 2);
        const string newMac = "02:fa:02:0b:00:01";
        await Shell.CheckedAsync(lab.VmNamespace(2, 2), $"ping -c 1 -W 2 {lab.VmIp(1, 2)}");
        var before = (await Eventually.ValueAsync(() => BindingAsync(Db, address), b => b?.Mac == oldMac, TimeSpan.FromSeconds(10), $"{address} bound to {oldMac}"))!;
        await Shell.CheckedAsync(lab.VmNamespace(1, 2), $"ping -c 1 -W 2 {address}");
        Assert.Equal(oldMac, await lab.NeighbourAsync(1, 2, address));

        // Destroyed and re-created on a new port of h2 with a new vNIC: same address, new MAC; it
        // announces itself once as it comes up (arp_notify).
        await lab.Fabric.Lab.MoveAsync("h2-vm2", 2, L2RulesFixture.RecreatePort, newMac);
        var after = (await Eventually.ValueAsync(() => BindingAsync(Db, address), b => b?.Mac == newMac, TimeSpan.FromSeconds(10), $"{address} bound to the re-created VM's {newMac}"))!;
        output.WriteLine($"{address}: {before} → {after}");

        await Eventually.WaitAsync(async () => (await lab.Status(1).ReadAsync()).ArpBinding(Db, address) == newMac, TimeSpan.FromSeconds(10), $"h1's agent binds {address} to {newMac}");
        var ping = await Shell.InNamespaceAsync(lab.VmNamespace(1, 2), $"ip neigh flush all && ping -c 3 -i 0.2 -W 2 {address}");
        Assert.True(ping.ExitCode == 0, $"h1-vm2 → the re-created h2-vm2 ({address}, {newMac}) failed:\n{ping.Output}");
        Assert.Equal(newMac, await lab.NeighbourAsync(1, 2, address));
        Assert.True(after.Sequence > before.Sequence, $"the binding moved without a higher sequence: {before} → {after}");
    }

    [Fact]
    public async Task An_address_flipping_between_two_macs_is_flagged_duplicate_no_longer_answered_for_and_cleared_by_an_operator()
    {
        const string address = "192.168.100.50";
        var claimants = new[] { (Host: 1, Mac: lab.VmMac(1, 1)), (Host: 2, Mac: lab.VmMac(2, 1)) };
        try
        {
            // Bound, then moved 5 times (MaxMoves within the 180 s window): each claim wins.
            var history = new List<IpBinding>();
            for (int claim = 0; claim <= 5; claim++)
            {
                var (host, _) = claimants[claim % 2];
                history.Add(await ClaimAsync(host, 1, Web, address));
            }

            // The 6th move flags it duplicate where it is.
            var (sixth, sixthMac) = claimants[0];
            var flagged = (await Eventually.ValueAsync(
                async () =>
                {
                    await lab.SendAsync(sixth, 1, GratuitousArp(sixthMac, address));
                    return await BindingAsync(Web, address);
                },
                b => b?.Duplicate == true,
                TimeSpan.FromSeconds(15),
                $"{address} flagged duplicate after a 6th move (history: {string.Join(", ", history)})"))!;
            output.WriteLine($"{address}: {string.Join(" → ", history)} → {flagged}");
            Assert.Equal(history[^1].Mac, flagged.Mac);

            // No longer answered by ARP suppression: h3's agent drops the binding, and an ARP request
            // for it from h3-vm1 is not answered locally.
            await Eventually.WaitAsync(async () => (await lab.Status(3).ReadAsync()).ArpBinding(Web, address) is null, TimeSpan.FromSeconds(10), $"h3's agent no longer binds {address}");
            long suppressed = Suppressed(await lab.Status(3).ReadFreshAsync());
            await lab.SendAsync(3, 1, ArpRequest(lab.VmMac(3, 1), lab.VmIp(3, 1), address));
            Assert.Equal(suppressed, Suppressed(await lab.Status(3).ReadFreshAsync()));

            // An operator clears it.
            var deleted = await lab.Fabric.Api.SendAsync(HttpMethod.Delete, $"api/segments/{Web}/ips/{address}");
            Assert.True(deleted.Status == HttpStatusCode.NoContent, $"DELETE the binding: {(int)deleted.Status} {deleted.Body}");
            Assert.False((await lab.Fabric.Api.IpBindingsAsync(Web)).ContainsKey(address), $"{address} is still bound after DELETE");
        }
        finally
        {
            await lab.Fabric.Api.SendAsync(HttpMethod.Delete, $"api/segments/{Web}/ips/{address}");
        }
    }

    private static long Suppressed(AgentStatus status) => status.Segment(Web)?.Counters.GetValueOrDefault("arpSuppressed") ?? 0;

    private async Task<IpBinding?> BindingAsync(long vni, string address)
        => (await lab.Fabric.Api.IpBindingsAsync(vni)).GetValueOrDefault(address);

    /// <summary>VM <paramref name="vm"/> of <paramref name="host"/> announces <paramref name="address"/> until the API binds it to its MAC.</summary>
    private async Task<IpBinding> ClaimAsync(int host, int vm, long vni, string address)
    {
        string mac = lab.VmMac(host, vm);
        return (await Eventually.ValueAsync(
            async () =>
            {
                await lab.SendAsync(host, vm, GratuitousArp(mac, address));
                return await BindingAsync(vni, address);
            },
            b => b?.Mac == mac,
            TimeSpan.FromSeconds(15),
            $"{address} bound to h{host}-vm{vm}'s {mac}"))!;
    }

    /// <summary>
    /// Polls a binding through the API as fast as it answers, from before the change is made, and
    /// notes when an answer first showed the awaited binding (an upper bound on when it changed).
    /// </summary>
    private sealed class BindingWatch : IDisposable
    {
        private readonly CancellationTokenSource _stop = new();
        private readonly TaskCompletionSource _started = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly Task<(DateTimeOffset, IpBinding)> _result;
        private IpBinding? _last;
        private int _polls;

        public BindingWatch(FabricApi api, long vni, string address, Func<IpBinding, bool> awaited)
        {
            _result = Task.Run(async () =>
            {
                while (true)
                {
                    _stop.Token.ThrowIfCancellationRequested();
                    _last = (await api.IpBindingsAsync(vni)).GetValueOrDefault(address);
                    var at = DateTimeOffset.UtcNow;
                    _polls++;
                    _started.TrySetResult();
                    if (_last is not null && awaited(_last))
                    {
                        return (at, _last);
                    }

                    await Task.Delay(5, _stop.Token);
                }
            });
        }

        public Task StartedAsync() => _started.Task.WaitAsync(TimeSpan.FromSeconds(10));

        public async Task<(DateTimeOffset SeenAt, IpBinding Binding)> ResultAsync(TimeSpan timeout)
        {
            if (await Task.WhenAny(_result, Task.Delay(timeout)) != _result)
            {
                await _stop.CancelAsync();
                throw new TimeoutException($"the binding did not change as awaited within {timeout.TotalSeconds} s ({_polls} polls); last: {_last?.ToString() ?? "none"}");
            }

            return await _result;
        }

        // Cancelled, not disposed: the polling task may still read the token.
        public void Dispose() => _stop.Cancel();
    }
}
