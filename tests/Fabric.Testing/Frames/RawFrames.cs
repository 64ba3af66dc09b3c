using System.Globalization;
using System.Text.Json;

namespace Fabric.Testing;

/// <summary>
/// Raw layer-2 frames in lab namespaces through python3 AF_PACKET sockets: a counter that watches an
/// interface for received frames matching byte patterns (hostile frames carry recognisable
/// prefixes), a sender of spoofed, VLAN-tagged or flapping frames, a sender of given frames (built
/// with <see cref="EthernetFrames"/>) that reports when each left, and a sender of UDP payloads.
/// </summary>
/// <remarks>
/// A pattern is <c>offset@hex</c> (bytes <c>hex</c> at <c>offset</c> of the frame) or just
/// <c>hex</c> (at offset 6, the source MAC); <see cref="Pattern"/> builds one. Frames the
/// interface sends itself (<c>PACKET_OUTGOING</c>) are never counted.
/// </remarks>
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
                            print('first ' + p, flush=True)
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

    // Sends the frames given in hex, in order, and prints when each left: "sent <index> <unix time>".
    private const string FramesScript = """
        import socket, sys, time
        iface, frames = sys.argv[1], sys.argv[2:]
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
        s.bind((iface, 0))
        for i, f in enumerate(frames):
            s.send(bytes.fromhex(f))
            print('sent %d %.6f' % (i, time.time()), flush=True)
        """;

    private const string UdpScript = """
        import socket, sys
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for _ in range(int(sys.argv[4])):
            s.sendto(bytes.fromhex(sys.argv[3]), (sys.argv[1], int(sys.argv[2])))
        """;

    /// <summary>The counter pattern for <paramref name="bytes"/> at <paramref name="offset"/> of a frame.</summary>
    public static string Pattern(int offset, params byte[][] bytes)
        => $"{offset.ToString(CultureInfo.InvariantCulture)}@{string.Concat(bytes.Select(Convert.ToHexStringLower))}";

    /// <summary>The counter pattern for frames from <paramref name="sourceMac"/> (offset 6).</summary>
    public static string FromMac(string sourceMac) => Pattern(6, EthernetFrames.Mac(sourceMac));

    /// <summary>The counter pattern for frames to <paramref name="destinationMac"/> from <paramref name="sourceMac"/> (offset 0).</summary>
    public static string Between(string destinationMac, string sourceMac) => Pattern(0, EthernetFrames.Mac(destinationMac), EthernetFrames.Mac(sourceMac));

    /// <summary>A running counter on <paramref name="iface"/> in <paramref name="ns"/>; <see cref="Counter.StopAsync"/> returns pattern → frames received.</summary>
    public static async Task<Counter> StartCounterAsync(string workDir, string ns, string iface, params string[] prefixes)
    {
        string script = await ScriptAsync(workDir, "rawcount.py", CounterScript);
        string stop = Path.Combine(workDir, $"stop-{Guid.NewGuid():N}");
        var process = TestProcess.StartInNamespace($"count {ns}/{iface}", ns, ["python3", script, iface, stop, string.Join(',', prefixes)]);
        try
        {
            await process.WaitForOutputAsync("ready", TimeSpan.FromSeconds(20));
        }
        catch
        {
            process.Dispose();
            throw;
        }

        return new Counter(process, stop, ns);
    }

    /// <summary>Sends <paramref name="count"/> frames of a hostile <paramref name="mode"/> (spoof, stacked, tagged, flap from <paramref name="mac"/>) from eth0 in <paramref name="ns"/>.</summary>
    /// <returns>How many were sent.</returns>
    public static async Task<int> SendAsync(string workDir, string ns, string mode, int count, string? mac = null)
    {
        string script = await ScriptAsync(workDir, "rawsend.py", SenderScript);
        var result = await Shell.RunAsync("ip", ["netns", "exec", ns, "python3", script, "eth0", mode, count.ToString(CultureInfo.InvariantCulture), mac ?? string.Empty], TimeSpan.FromSeconds(60));
        return result.ExitCode == 0
            ? int.Parse(result.Output.Trim().Split('\n')[^1], CultureInfo.InvariantCulture)
            : throw new CommandFailedException($"rawsend {mode} in {ns} exited {result.ExitCode}: {result.Output}");
    }

    /// <summary>Sends <paramref name="frames"/> in order from <paramref name="iface"/> in <paramref name="ns"/>.</summary>
    /// <returns>When each frame left (the sender's clock, which is this machine's).</returns>
    public static async Task<IReadOnlyList<DateTimeOffset>> SendFramesAsync(string workDir, string ns, string iface, IEnumerable<byte[]> frames)
    {
        string script = await ScriptAsync(workDir, "rawframes.py", FramesScript);
        var hex = frames.Select(Convert.ToHexStringLower).ToArray();
        var result = await Shell.RunAsync("ip", ["netns", "exec", ns, "python3", script, iface, .. hex], TimeSpan.FromSeconds(30));
        if (result.ExitCode != 0)
        {
            throw new CommandFailedException($"rawframes in {ns}/{iface} exited {result.ExitCode}: {result.Output}");
        }

        var times = result.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Where(l => l.StartsWith("sent ", StringComparison.Ordinal))
            .Select(l => DateTimeOffset.FromUnixTimeMilliseconds((long)(double.Parse(l.Split(' ')[2], CultureInfo.InvariantCulture) * 1000)))
            .ToList();
        return times.Count == hex.Length ? times : throw new CommandFailedException($"rawframes in {ns}/{iface} sent {times.Count} of {hex.Length} frames: {result.Output}");
    }

    /// <summary>Sends <paramref name="payload"/> as UDP to <paramref name="address"/>:<paramref name="port"/> from <paramref name="ns"/>, <paramref name="count"/> times.</summary>
    public static async Task SendUdpAsync(string workDir, string ns, string address, int port, byte[] payload, int count = 1)
    {
        string script = await ScriptAsync(workDir, "rawudp.py", UdpScript);
        var result = await Shell.RunAsync("ip", ["netns", "exec", ns, "python3", script, address, port.ToString(CultureInfo.InvariantCulture), Convert.ToHexStringLower(payload), count.ToString(CultureInfo.InvariantCulture)], TimeSpan.FromSeconds(30));
        if (result.ExitCode != 0)
        {
            throw new CommandFailedException($"UDP to {address}:{port} from {ns} exited {result.ExitCode}: {result.Output}");
        }
    }

    private static async Task<string> ScriptAsync(string workDir, string name, string text)
    {
        string script = Path.Combine(workDir, name);
        if (!File.Exists(script))
        {
            // Written under a unique name, then renamed: a concurrent caller never runs half a file.
            string temp = $"{script}.{Guid.NewGuid():N}";
            await File.WriteAllTextAsync(temp, text);
            File.Move(temp, script, overwrite: true);
        }

        return script;
    }

    /// <summary>A counter of received frames by pattern, running until <see cref="StopAsync"/>.</summary>
    public sealed class Counter(TestProcess process, string stop, string ns) : IAsyncDisposable
    {
        /// <summary>The namespace it counts in.</summary>
        public string Namespace { get; } = ns;

        /// <summary>After <see cref="StopAsync"/>: unix time of the first frame of each pattern that was seen.</summary>
        public Dictionary<string, double> FirstSeen { get; private set; } = [];

        /// <summary>Whether <see cref="StopAsync"/> was called.</summary>
        public bool Stopped { get; private set; }

        /// <summary>Waits until a frame matching <paramref name="pattern"/> was received (a barrier: what was sent before it on the same path has arrived).</summary>
        public Task WaitForFirstAsync(string pattern, TimeSpan timeout) => process.WaitForOutputAsync($"first {pattern}", timeout);

        /// <summary>Stops counting; returns pattern → frames received.</summary>
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
            if (lines.Length < 2)
            {
                throw new InvalidOperationException($"counter in {Namespace} printed no counts:\n{process.Tail()}");
            }

            FirstSeen = JsonSerializer.Deserialize<Dictionary<string, double>>(lines[^2][lines[^2].IndexOf('{')..])!;
            return JsonSerializer.Deserialize<Dictionary<string, int>>(lines[^1][lines[^1].IndexOf('{')..])!;
        }

        /// <summary>Ends the counter (by PID) if it was not stopped.</summary>
        public async ValueTask DisposeAsync()
        {
            Stopped = true;
            await process.DisposeAsync();
            File.Delete(stop);
        }
    }
}
