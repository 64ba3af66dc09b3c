using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Fabric.HostAgent.Ports;

namespace Fabric.Chaos.Tests;

public sealed partial class ChaosTests
{
    private const string Hostile = "02bd";      // inner source MAC prefix of every datagram that must be dropped
    private const string BogusLength = "02bc";  // well-formed VXLAN, inner IPv4 with lying lengths, unicast to h1-vm1
    private const string Spoofed = "025f";      // spoofed source MACs from h1-vm1
    private const string Stacked = "025e";      // double-tagged / tagged frames on access ports

    /// <summary>Mutated datagram classes and the counter (on h1's VTEP) each must land in.</summary>
    private enum Mutation
    {
        Truncated,        // UDP payload 0..7 bytes: malformed.Truncated
        BadFlags,         // I flag clear: malformed.BadVxlanFlags
        VniZero,          // malformed.BadVni
        UnknownVni,       // drop.UnknownVni
        InnerTooShort,    // 1..13 inner bytes: malformed.InnerFrameTooShort
        InnerTagged,      // 802.1Q / 802.1ad / 0x9100 inner tag: drop.InnerVlanTagged
        Garbage,          // random bytes: by their own first 8 bytes
        OversizedInner,   // inner frame 1500..9550 bytes for web: flooded to h1's web ports, which cannot take it
        OversizedUdp,     // UDP payload 9601..60000 bytes (beyond the agent's 9600-byte slot)
        BogusLengths,     // valid, inner IPv4 lengths lie: an L2 switch forwards it to its destination only
    }

    /// <summary>Case 7: hostile input on the data plane, with a ping running alongside.</summary>
    [Fact]
    [Order(20)]
    public async Task Hostile_input_is_dropped_counted_by_reason_and_never_delivered()
    {
        const string Case = "7 hostile input";
        const int Total = 1_000_000;
        const int FromNonVtep = 20_000;
        const int SpoofFrames = 2_000;
        const int StackedFrames = 1_500;
        const int TaggedFrames = 500;

        var counters = new List<RawFrames.Counter>();
        Ping? ping = null;
        try
        {
            for (int host = 1; host <= ChaosFabric.Hosts; host++)
            {
                for (int vm = 1; vm <= 3; vm++)
                {
                    counters.Add(await RawFrames.StartCounterAsync(fabric.WorkDir, fabric.VmNamespace(host, vm), "eth0", Hostile, BogusLength, Spoofed, Stacked));
                }
            }

            // Baselines the agents wrote after this point (a plain read may be a second old).
            var baselines = await Task.WhenAll(fabric.Status(1).ReadFreshAsync(), fabric.Status(2).ReadFreshAsync());
            var (before, beforeH2) = (baselines[0], baselines[1]);
            long kernelBefore = await UdpRcvbufErrorsAsync(fabric.HostNamespace(1));
            int macsOnVm1 = before.Port("vm1").Macs;

            ping = Ping.Start(fabric.VmNamespace(3, 1), fabric.VmIp(1, 1), 0.01);
            await ping.WaitRepliesAsync(50);

            // 1. A million mutated datagrams from h2 (a VTEP of both segments) to h1's VTEP port.
            var clock = Stopwatch.StartNew();
            // Paced by the receiver: the rate backs off whenever h1's kernel drops datagrams for a full socket buffer.
            // A process inside h1's namespace, so its /proc/PID/net/snmp is h1's; it is there once ip has exec'd sleep.
            using var probe = TestProcess.StartInNamespace("h1 snmp probe", fabric.HostNamespace(1), ["sleep", "600"]);
            await Eventually.WaitAsync(() => File.ReadAllText($"/proc/{probe.Pid}/comm").Trim() == "sleep", TimeSpan.FromSeconds(10), "the snmp probe inside h1's namespace", TimeSpan.FromMilliseconds(20));
            string snmpFile = $"/proc/{probe.Pid}/net/snmp";
            var (sentBy, expected, rates) = SendMutations(fabric.HostNamespace(2), fabric.UnderlayIp(1), Total, fabric.VmMac(1, 1), () => ParseRcvbufErrors(File.ReadAllText(snmpFile)));
            double blastSeconds = clock.Elapsed.TotalSeconds;

            // 2. Well-formed VXLAN for web from the underlay switch's address, not a VTEP of the segment.
            int nonVtep = SendFromNonVtep(fabric.UnderlayNamespace, fabric.UnderlayIp(1), FromNonVtep);

            // 3. Spoofed source MACs beyond web's MAC limit from h1-vm1; 4. VLAN hopping on h2-vm1's access port.
            int spoofed = await RawFrames.SendAsync(fabric.WorkDir, fabric.VmNamespace(1, 1), "spoof", SpoofFrames);
            int stacked = await RawFrames.SendAsync(fabric.WorkDir, fabric.VmNamespace(2, 1), "stacked", StackedFrames);
            int tagged = await RawFrames.SendAsync(fabric.WorkDir, fabric.VmNamespace(2, 1), "tagged", TaggedFrames);
            expected["drop.NotAVtepOfSegment"] = expected.GetValueOrDefault("drop.NotAVtepOfSegment") + nonVtep;
            int allowedSpoof = ChaosFabric.WebMacLimit - macsOnVm1;

            string[] reasons = ["malformed.Truncated", "malformed.BadVxlanFlags", "malformed.BadVni", "malformed.InnerFrameTooShort", "drop.UnknownVni", "drop.NotAVtepOfSegment", "drop.InnerVlanTagged"];
            long Delta(AgentStatus a, AgentStatus b, Func<AgentStatus, IReadOnlyDictionary<string, long>> scope, string name) => scope(b).GetValueOrDefault(name) - scope(a).GetValueOrDefault(name);
            long PortDelta(AgentStatus a, AgentStatus b, string port, string name) => b.Port(port).Counters.GetValueOrDefault(name) - a.Port(port).Counters.GetValueOrDefault(name);

            // The status files are rewritten every second: read them until every counter has reached
            // what was sent (less what the kernel dropped before the agent could read it), or 30 s
            // passed; the assertions below judge the last read.
            var (after, afterH2, kernelDrops) = await Eventually.UntilAsync(
                async () => (await fabric.AgentStatusAsync(1), await fabric.AgentStatusAsync(2), await UdpRcvbufErrorsAsync(fabric.HostNamespace(1)) - kernelBefore),
                read => reasons.All(r => Delta(before, read.Item1, s => s.Vtep, r) >= expected.GetValueOrDefault(r) - read.Item3)
                    && Delta(before, read.Item1, s => s.Vtep, "drop.TooLong") >= sentBy[Mutation.OversizedUdp] - read.Item3
                    && PortDelta(before, read.Item1, "vm1", "drop.MacLimitExceeded") >= spoofed - allowedSpoof
                    && PortDelta(beforeH2, read.Item2, "vm1", "drop.StackedVlanTags") >= stacked
                    && PortDelta(beforeH2, read.Item2, "vm1", "drop.TaggedOnAccessPort") >= tagged,
                TimeSpan.FromSeconds(30),
                TimeSpan.FromMilliseconds(500));

            var summary = await ping.StopAsync();
            var seen = new Dictionary<string, Dictionary<string, int>>();
            foreach (var counter in counters)
            {
                seen[counter.Namespace[(fabric.Prefix.Length + 1)..]] = await counter.StopAsync();
            }

            counters.Clear();

            var counted = reasons.ToDictionary(r => r, r => Delta(before, after, s => s.Vtep, r));
            long vtepReceived = Delta(before, after, s => s.Vtep, "received");
            long malformed = Delta(before, after, s => s.Vtep, "drop.Malformed");
            long sendFailed = Delta(before, after, s => s.Total, "drop.SendFailed");
            long tooLong = Delta(before, after, s => s.Total, "drop.TooLong");
            long oversized = Delta(before, after, s => s.Vtep, "drop.TooLong");
            long macLimit = PortDelta(before, after, "vm1", "drop.MacLimitExceeded");
            long stackedDrops = PortDelta(beforeH2, afterH2, "vm1", "drop.StackedVlanTags");
            long taggedDrops = PortDelta(beforeH2, afterH2, "vm1", "drop.TaggedOnAccessPort");

            int hostileSeen = seen.Values.Sum(c => c[Hostile]);
            int stackedSeen = seen.Values.Sum(c => c[Stacked]);
            int bogusElsewhere = seen.Where(kv => kv.Key != "h1-vm1").Sum(kv => kv.Value[BogusLength]);
            int spoofOnDb = seen.Where(kv => kv.Key.EndsWith("vm2", StringComparison.Ordinal)).Sum(kv => kv.Value[Spoofed]);
            int spoofMax = seen.Where(kv => kv.Key != "h1-vm1").Max(kv => kv.Value[Spoofed]);

            Report(Case, $"sent {Total:N0} mutated datagrams h2→h1:4789 in {blastSeconds:F1} s ({Total / blastSeconds:N0}/s average, paced {rates.Min:N0}..{rates.Max:N0}/s): " + string.Join(", ", sentBy.Select(kv => $"{kv.Key} {kv.Value:N0}")));
            Report(Case, $"h1 VTEP: received {vtepReceived:N0} (incl. legitimate), kernel socket drops (Udp RcvbufErrors) {kernelDrops:N0}, drop.Malformed {malformed:N0}; by reason counted/expected: "
                + string.Join(", ", reasons.Select(r => $"{r} {counted[r]:N0}/{expected.GetValueOrDefault(r):N0}")) + $"; drop.SendFailed {sendFailed:N0}, drop.TooLong {tooLong:N0} (at the VTEP, datagrams beyond a slot: {oversized:N0})");
            Report(Case, $"non-VTEP source: {nonVtep:N0} sent, drop.NotAVtepOfSegment counted {counted["drop.NotAVtepOfSegment"]:N0}");
            Report(Case, $"spoofed MACs from h1-vm1: {spoofed} sent, MAC limit {ChaosFabric.WebMacLimit} ({allowedSpoof} free), drop.MacLimitExceeded {macLimit} (expected {spoofed - allowedSpoof}); most seen on another web VM {spoofMax} (≤ {allowedSpoof}), on db VMs {spoofOnDb} (goal 0)");
            Report(Case, $"VLAN hopping on h2-vm1 (access): {stacked} double-tagged → drop.StackedVlanTags {stackedDrops}; {tagged} tagged → drop.TaggedOnAccessPort {taggedDrops}; seen on any VM {stackedSeen} (goal 0)");
            Report(Case, $"frames of must-drop datagrams seen on any VM: {hostileSeen} (goal 0); bogus-length frames on VMs other than their destination: {bogusElsewhere} (goal 0), at h1-vm1 {seen["h1-vm1"][BogusLength]} of {sentBy[Mutation.BogusLengths]}");
            Report(Case, $"ping h3-vm1→h1-vm1 every 10 ms alongside: {summary} (goal 0 lost); agents running: {string.Join(",", Enumerable.Range(1, 3).Select(h => fabric.Agents[h]!.HasExited ? $"h{h} EXITED" : $"h{h}"))}");

            Assert.All(Enumerable.Range(1, 3), h => Assert.False(fabric.Agents[h]!.HasExited, $"agent h{h} exited:\n{fabric.Agents[h]!.Tail()}"));
            Assert.Equal(0, hostileSeen);
            Assert.Equal(0, stackedSeen);
            Assert.Equal(0, bogusElsewhere);
            Assert.Equal(0, spoofOnDb);
            Assert.True(spoofMax <= allowedSpoof, $"a web VM saw {spoofMax} spoofed sources, the limit leaves {allowedSpoof}");
            Assert.Equal(spoofed - allowedSpoof, macLimit);
            Assert.Equal(stacked, stackedDrops);
            Assert.Equal(tagged, taggedDrops);

            // Datagrams beyond a slot (the receive cuts them) are counted at the VTEP as TooLong.
            Assert.True(oversized <= sentBy[Mutation.OversizedUdp] && oversized >= sentBy[Mutation.OversizedUdp] - kernelDrops, $"oversized datagrams: counted {oversized}, sent {sentBy[Mutation.OversizedUdp]} (kernel drops {kernelDrops})");

            // Every datagram the agent's socket got was counted under its reason; those the kernel
            // dropped (socket buffer full) never reached it, so each reason may fall short by at most that.
            foreach (var reason in reasons)
            {
                long want = expected.GetValueOrDefault(reason);
                Assert.True(counted[reason] <= want && counted[reason] >= want - kernelDrops, $"{reason}: counted {counted[reason]}, expected {want} (kernel drops {kernelDrops})");
            }

            // The flood and the ping share h1's one VTEP socket: what the kernel drops for a full buffer
            // (the pacing probes for exactly that) hits both alike. The agent must not lose more than that share.
            double dropShare = (double)kernelDrops / (vtepReceived + kernelDrops);
            Report(Case, $"ping loss {100.0 * summary.LostWithin / Math.Max(1, summary.Transmitted):F2}% vs the VTEP socket's kernel drop share {100 * dropShare:F2}% ({(summary.LostWithin == 0 ? "goal 0 loss met" : "goal 0 loss not met: the socket overflowed, and nothing tells a flood from a peer before the kernel drops")}; one recvmmsg per batch, 16 MiB socket buffer)");
            Assert.True(summary.Received > 0 && summary.LostWithin <= Math.Max(summary.Transmitted / 100, 2 * dropShare * summary.Transmitted + 5), $"legitimate ping suffered more than the socket's drop share: {summary}, share {dropShare:P2}");
            var check = await Shell.InNamespaceAsync(fabric.VmNamespace(2, 1), $"ping -c 3 -i 0.2 -W 1 {fabric.VmIp(1, 1)}");
            Assert.True(check.ExitCode == 0, $"after the attack h2-vm1 → h1-vm1: {check.Output}");
        }
        finally
        {
            ping?.Dispose();
            foreach (var counter in counters)
            {
                try
                {
                    await counter.StopAsync();
                }
                catch (Exception)
                {
                }
            }
        }
    }

    private static async Task<long> UdpRcvbufErrorsAsync(string ns)
    {
        return ParseRcvbufErrors(await Shell.CheckedAsync(ns, "cat /proc/net/snmp"));
    }

    private static long ParseRcvbufErrors(string snmp)
    {
        var udp = snmp.Split('\n').Where(l => l.StartsWith("Udp:", StringComparison.Ordinal)).ToArray();
        var names = udp[0].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var values = udp[1].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return long.Parse(values[Array.IndexOf(names, "RcvbufErrors")]);
    }

    /// <summary>Sends <paramref name="total"/> mutated datagrams from a socket inside <paramref name="ns"/>, paced; returns how many of each, and the counter each must land in.</summary>
    private static (Dictionary<Mutation, int> Sent, Dictionary<string, long> Expected, (double Min, double Max) Rates) SendMutations(string ns, string target, int total, string h1Vm1Mac, Func<long> kernelDrops)
    {
        var random = new Random(7348);
        var plan = new (Mutation Kind, int Count)[]
        {
            (Mutation.Truncated, 120_000), (Mutation.BadFlags, 120_000), (Mutation.VniZero, 120_000), (Mutation.UnknownVni, 150_000),
            (Mutation.InnerTooShort, 120_000), (Mutation.InnerTagged, 120_000), (Mutation.OversizedInner, 10_000),
            (Mutation.OversizedUdp, 2_000), (Mutation.BogusLengths, 10_000),
        };
        int garbage = total - plan.Sum(p => p.Count);
        var schedule = new Mutation[total];
        int n = 0;
        foreach (var (kind, count) in plan.Append((Mutation.Garbage, garbage)))
        {
            schedule.AsSpan(n, count).Fill(kind);
            n += count;
        }

        random.Shuffle(schedule);
        var pools = Enum.GetValues<Mutation>().ToDictionary(k => k, k => Enumerable.Range(0, 512).Select(i => Build(k, random, h1Vm1Mac)).ToArray());
        var sent = new Dictionary<Mutation, int>();
        var expected = new Dictionary<string, long>();
        using var socket = NetworkNamespace.Run(ns, () =>
        {
            var s = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            s.SendBufferSize = 4 << 20;
            return s;
        });
        var to = new IPEndPoint(IPAddress.Parse(target), 4789);
        // AIMD on the receiver's kernel drops: as hard as the agent can read, not harder.
        double rate = 30_000, minRate = double.MaxValue, maxRate = 0, budget = 0;
        long drops = kernelDrops();
        var clock = Stopwatch.StartNew();
        var last = TimeSpan.Zero;
        var lastCheck = TimeSpan.Zero;
        for (int i = 0; i < total; i++)
        {
            var kind = schedule[i];
            var datagram = pools[kind][i & 511];
            socket.SendTo(datagram, to);
            sent[kind] = sent.GetValueOrDefault(kind) + 1;
            if (Expect(kind, datagram) is { } reason)
            {
                expected[reason] = expected.GetValueOrDefault(reason) + 1;
            }

            if ((i & 63) == 63)
            {
                var now = clock.Elapsed;
                budget += (now - last).TotalSeconds * rate - 64;
                last = now;
                if (budget < -64)
                {
                    Thread.Sleep(TimeSpan.FromSeconds(-budget / rate));
                }

                budget = Math.Clamp(budget, -256, 512);
                if (now - lastCheck > TimeSpan.FromMilliseconds(50))
                {
                    lastCheck = now;
                    long d = kernelDrops();
                    rate = d > drops ? Math.Max(2_000, rate * 0.7) : Math.Min(200_000, rate + 1_000);
                    drops = d;
                    minRate = Math.Min(minRate, rate);
                    maxRate = Math.Max(maxRate, rate);
                }
            }
        }

        return (sent, expected, (minRate, maxRate));
    }

    /// <summary>The VTEP counter a datagram must land in, from RFC 7348 alone (not from the agent's code).</summary>
    private static string? Expect(Mutation kind, byte[] d)
    {
        if (kind is Mutation.OversizedInner or Mutation.OversizedUdp or Mutation.BogusLengths)
        {
            return null; // not a VTEP drop: judged by where frames arrive
        }

        if (d.Length < 8)
        {
            return "malformed.Truncated";
        }

        if ((d[0] & 0x08) == 0)
        {
            return "malformed.BadVxlanFlags";
        }

        int vni = (d[4] << 16) | (d[5] << 8) | d[6];
        if (vni == 0)
        {
            return "malformed.BadVni";
        }

        if (d.Length - 8 < 14)
        {
            return "malformed.InnerFrameTooShort";
        }

        if (vni != ChaosFabric.WebVni && vni != ChaosFabric.DbVni)
        {
            return "drop.UnknownVni";
        }

        ushort type = BinaryPrimitives.ReadUInt16BigEndian(d.AsSpan(8 + 12));
        return type is 0x8100 or 0x88a8 or 0x9100 ? "drop.InnerVlanTagged" : throw new InvalidOperationException($"{kind} would be delivered");
    }

    private static byte[] Build(Mutation kind, Random random, string h1Vm1Mac)
    {
        byte[] Vxlan(byte flags, int vni, int innerLength)
        {
            var d = new byte[8 + innerLength];
            d[0] = flags;
            d[4] = (byte)(vni >> 16);
            d[5] = (byte)(vni >> 8);
            d[6] = (byte)vni;
            return d;
        }

        void Inner(byte[] d, ReadOnlySpan<byte> destination, ushort type, byte[] sourcePrefix)
        {
            destination.CopyTo(d.AsSpan(8));
            sourcePrefix.CopyTo(d.AsSpan(14));
            random.NextBytes(d.AsSpan(16, 4));
            BinaryPrimitives.WriteUInt16BigEndian(d.AsSpan(20), type);
            random.NextBytes(d.AsSpan(22));
        }

        byte[] broadcast = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
        byte[] hostile = [0x02, 0xbd];
        int segment = random.Next(2) == 0 ? (int)ChaosFabric.WebVni : (int)ChaosFabric.DbVni;
        switch (kind)
        {
            case Mutation.Truncated:
            {
                var d = new byte[random.Next(0, 8)];
                random.NextBytes(d);
                if (d.Length > 0)
                {
                    d[0] = 0x08;
                }

                return d;
            }

            case Mutation.BadFlags:
            {
                var d = Vxlan((byte)(random.Next(256) & ~0x08), segment, 60);
                Inner(d, broadcast, 0x0806, hostile);
                return d;
            }

            case Mutation.VniZero:
            {
                var d = Vxlan(0x08, 0, 60);
                Inner(d, broadcast, 0x0806, hostile);
                return d;
            }

            case Mutation.UnknownVni:
            {
                int vni;
                do
                {
                    vni = random.Next(1, 1 << 24);
                }
                while (vni is (int)ChaosFabric.WebVni or (int)ChaosFabric.DbVni);
                var d = Vxlan(0x08, vni, 60);
                Inner(d, broadcast, 0x0806, hostile);
                return d;
            }

            case Mutation.InnerTooShort:
            {
                var d = Vxlan(0x08, segment, random.Next(1, 14));
                random.NextBytes(d.AsSpan(8));
                return d;
            }

            case Mutation.InnerTagged:
            {
                var d = Vxlan(0x08, segment, 64);
                ushort[] tpids = [0x8100, 0x88a8, 0x9100];
                Inner(d, broadcast, tpids[random.Next(3)], hostile);
                return d;
            }

            case Mutation.OversizedInner:
            {
                var d = Vxlan(0x08, (int)ChaosFabric.WebVni, random.Next(1500, 9550));
                Inner(d, broadcast, 0x0800, hostile);
                return d;
            }

            case Mutation.OversizedUdp:
            {
                var d = Vxlan(0x08, (int)ChaosFabric.WebVni, random.Next(9601, 60000));
                Inner(d, broadcast, 0x0800, hostile);
                return d;
            }

            case Mutation.BogusLengths:
            {
                var d = Vxlan(0x08, (int)ChaosFabric.WebVni, 60);
                Inner(d, Convert.FromHexString(h1Vm1Mac.Replace(":", string.Empty)), 0x0800, [0x02, 0xbc]);
                d[22] = (byte)(0x40 | random.Next(16));                                              // IHL 0..15
                BinaryPrimitives.WriteUInt16BigEndian(d.AsSpan(24), (ushort)random.Next(0, 65536));  // total length lies
                return d;
            }

            default:
            {
                var d = new byte[random.Next(8, 1400)];
                random.NextBytes(d);
                if (d.Length > 20)
                {
                    hostile.CopyTo(d.AsSpan(14));
                    if ((d[0] & 0x08) != 0 && ((d[4] << 16) | (d[5] << 8) | d[6]) is (int)ChaosFabric.WebVni or (int)ChaosFabric.DbVni)
                    {
                        d[4] ^= 0x80; // never a real segment: garbage must not be forwarded
                    }
                }

                return d;
            }
        }
    }

    private static int SendFromNonVtep(string ns, string target, int count)
    {
        using var socket = NetworkNamespace.Run(ns, () => new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp));
        var to = new IPEndPoint(IPAddress.Parse(target), 4789);
        var d = new byte[8 + 60];
        d[0] = 0x08;
        BinaryPrimitives.WriteUInt32BigEndian(d.AsSpan(4), (uint)ChaosFabric.WebVni << 8);
        d.AsSpan(8, 6).Fill(0xff);
        d[14] = 0x02;
        d[15] = 0xbd;
        d[20] = 0x08;
        d[21] = 0x06;
        for (int i = 0; i < count; i++)
        {
            d[19] = (byte)i;
            socket.SendTo(d, to);
            if ((i & 127) == 127)
            {
                Thread.Sleep(1);
            }
        }

        return count;
    }
}
