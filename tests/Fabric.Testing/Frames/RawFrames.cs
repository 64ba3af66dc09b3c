using System.Text.Json;

namespace Fabric.Chaos.Tests;

/// <summary>
/// Raw layer-2 frames in VM namespaces through python3 AF_PACKET sockets: a counter that watches
/// an interface for frames whose source MAC starts with given prefixes (our hostile frames carry
/// recognisable prefixes), and a sender of spoofed or VLAN-tagged frames.
/// </summary>
public static class RawFrames
{
    private const string CounterScript = """
        import json, os, select, socket, sys, time
        iface, stop, prefixes = sys.argv[1], sys.argv[2], sys.argv[3].split(',')
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 << 20)
        s.bind((iface, 0))
        print('ready', flush=True)
        counts = {p: 0 for p in prefixes}
        first = {}
        keys = [(p, int(p.split('@')[0]) if '@' in p else 6, bytes.fromhex(p.split('@')[-1])) for p in prefixes]
        def drain():
            while True:
                try:
                    f, addr = s.recvfrom(65535, socket.MSG_DONTWAIT)
                except BlockingIOError:
                    return
                if addr[2] == socket.PACKET_OUTGOING:
                    continue
                for p, off, want in keys:
                    if f[off:off + len(want)] == want:
                        counts[p] += 1
                        if p not in first:
                            first[p] = time.time()
        while not os.path.exists(stop):
            r, _, _ = select.select([s], [], [], 0.1)
            if r:
                drain()
        drain()
        print(json.dumps(first), flush=True)
        print(json.dumps(counts), flush=True)
        """;

    private const string SenderScript = """
        import socket, struct, sys, time
        iface, mode, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
        s.bind((iface, 0))
        bc = b'\xff' * 6
        payload = b'fabric-chaos-' * 4
        sent = 0
        for i in range(n):
            if mode == 'spoof':
                f = bc + bytes([2, 0x5f, 0, 0, (i >> 8) & 255, i & 255]) + b'\x88\xb5' + payload
            elif mode == 'stacked':
                outer = b'\x88\xa8' if i % 3 == 0 else (b'\x81\x00' if i % 3 == 1 else b'\x91\x00')
                f = bc + bytes([2, 0x5e, 0, 0, 0, 1]) + outer + struct.pack('!H', 10) + b'\x81\x00' + struct.pack('!H', 20) + b'\x08\x06' + payload
            elif mode == 'tagged':
                f = bc + bytes([2, 0x5e, 0, 0, 0, 2]) + b'\x81\x00' + struct.pack('!H', 2) + b'\x08\x06' + payload
            elif mode == 'flap':
                f = bc + bytes.fromhex(sys.argv[4].replace(':', '')) + b'\x88\xb5' + payload
            s.send(f)
            sent += 1
            if i % 50 == 49:
                time.sleep(0.002)
        print(sent, flush=True)
        """;

    /// <summary>A running counter in <paramref name="ns"/>; <see cref="Counter.StopAsync"/> returns prefix → frames.</summary>
    public static async Task<Counter> StartCounterAsync(string workDir, string ns, string iface, params string[] prefixes)
    {
        string script = Path.Combine(workDir, "rawcount.py");
        if (!File.Exists(script))
        {
            await File.WriteAllTextAsync(script, CounterScript);
        }

        string stop = Path.Combine(workDir, $"stop-{Guid.NewGuid():N}");
        var process = TestProcess.StartInNamespace($"count {ns}", ns, ["python3", script, iface, stop, string.Join(',', prefixes)]);
        await process.WaitForOutputAsync("ready", TimeSpan.FromSeconds(20));
        Assert.False(process.HasExited, $"counter in {ns} exited: {process.Output}");
        return new Counter(process, stop, ns);
    }

    public static async Task<int> SendAsync(string workDir, string ns, string mode, int count, string? mac = null)
    {
        string script = Path.Combine(workDir, "rawsend.py");
        await File.WriteAllTextAsync(script, SenderScript);
        var result = await Shell.RunAsync("ip", ["netns", "exec", ns, "python3", script, "eth0", mode, count.ToString(), mac ?? string.Empty], TimeSpan.FromSeconds(60));
        Assert.True(result.ExitCode == 0, $"rawsend {mode} in {ns}: {result.Output}");
        return int.Parse(result.Output.Trim().Split('\n')[^1]);
    }

    public sealed class Counter(TestProcess process, string stop, string ns)
    {
        public string Namespace { get; } = ns;

        /// <summary>After <see cref="StopAsync"/>: unix time of the first frame of each prefix that was seen.</summary>
        public Dictionary<string, double> FirstSeen { get; private set; } = [];

        public bool Stopped { get; private set; }

        public async Task<Dictionary<string, int>> StopAsync()
        {
            Stopped = true;
            await File.WriteAllTextAsync(stop, "stop");
            if (!await process.WaitForExitAsync(TimeSpan.FromSeconds(20)))
            {
                throw new TimeoutException($"counter in {Namespace} not done within 20 s:\n{process.Tail()}");
            }

            var lines = process.Output.Text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => l.Contains('{')).ToArray();
            process.Dispose();
            File.Delete(stop);
            FirstSeen = JsonSerializer.Deserialize<Dictionary<string, double>>(lines[^2][lines[^2].IndexOf('{')..])!;
            return JsonSerializer.Deserialize<Dictionary<string, int>>(lines[^1][lines[^1].IndexOf('{')..])!;
        }
    }
}
