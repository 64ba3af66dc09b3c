namespace Fabric.Lab.Tests;

/// <summary>
/// A frame the test sends when it wants to stop a capture: once tshark has printed it, every frame
/// that reached the interface before it is in the file. <see cref="Line"/> is how tshark prints it
/// (fields ip.src and udp.dstport, tab-separated).
/// </summary>
public sealed record CaptureMarker(string Filter, string Line, Func<Task> Send);

/// <summary>
/// A tshark capture to a pcap file inside a lab namespace. <see cref="StartAsync"/> returns once
/// tshark reports "Capturing on", so what is sent afterwards is in the file; <see cref="StopAsync"/>
/// sends the marker and waits until tshark has seen it (frames still in the kernel's capture buffer
/// would be lost otherwise), then ends tshark with SIGINT (by PID) so the file is complete.
/// </summary>
public sealed class Capture : IAsyncDisposable
{
    private readonly TestProcess _process;
    private readonly CaptureMarker? _marker;

    private Capture(TestProcess process, string file, CaptureMarker? marker)
    {
        _process = process;
        File = file;
        _marker = marker;
    }

    public string File { get; }

    public string Errors => _process.Output.TextOf(OutputStream.Error);

    /// <param name="maxSeconds">A bound on the capture should the test never stop it.</param>
    public static async Task<Capture> StartAsync(string ns, string iface, string filter, string file, CaptureMarker? marker = null, int maxSeconds = 120)
    {
        string fullFilter = marker is null ? filter : $"({filter}) or ({marker.Filter})";
        var process = TestProcess.StartInNamespace($"tshark {ns}/{iface}", ns,
            ["tshark", "-n", "-l", "-i", iface, "-f", fullFilter, "-w", file, "-a", $"duration:{maxSeconds}", "-P", "-T", "fields", "-e", "ip.src", "-e", "udp.dstport"]);
        var capture = new Capture(process, file, marker);
        try
        {
            await process.WaitForOutputAsync("Capturing on", TimeSpan.FromSeconds(60));
        }
        catch (Exception ex) when (ex is TimeoutException or InvalidOperationException)
        {
            await capture.DisposeAsync();
            throw new InvalidOperationException($"tshark did not start capturing on {ns}/{iface}: {capture.Errors}", ex);
        }

        // "Capturing on" can come before the filter is live here: frames sent right after it were
        // missed. A marker that comes back through the capture proves it is live.
        if (marker is not null && !await capture.AwaitMarkerAsync())
        {
            await capture.DisposeAsync();
            throw new InvalidOperationException($"tshark on {ns}/{iface} never showed the marker '{marker.Line}': {capture.Errors}");
        }

        return capture;
    }

    /// <summary>Sends the marker until tshark prints it (a fresh wait each call: only a line printed from now on counts).</summary>
    private async Task<bool> AwaitMarkerAsync()
    {
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var seen = _process.Output.NextLineAsync(line => line.TrimEnd() == _marker!.Line, includeKept: false, bound.Token);
        while (!seen.IsCompleted && !_process.HasExited && !bound.IsCancellationRequested)
        {
            await _marker!.Send();
            await Task.WhenAny(seen, Task.Delay(300));
        }

        await bound.CancelAsync();
        return seen.IsCompletedSuccessfully;
    }

    /// <summary>Sends the marker until tshark has seen it, then stops the capture (SIGINT) and waits for tshark to close the file.</summary>
    public async Task StopAsync()
    {
        if (_marker is not null)
        {
            Assert.True(await AwaitMarkerAsync(), $"tshark never printed the capture's end marker '{_marker.Line}': {Errors}");
        }

        _process.Signal(Signals.Interrupt);
        if (!await _process.WaitForExitAsync(TimeSpan.FromSeconds(20)))
        {
            _process.Kill();
        }

        Assert.True(System.IO.File.Exists(File), $"tshark wrote no {File}: {Errors}");
    }

    /// <summary>Copies the pcap where it outlives the lab (for a failure message) and returns its path.</summary>
    public string Keep()
    {
        string directory = Path.Combine(Path.GetTempPath(), "fabric-lab-pcaps");
        Directory.CreateDirectory(directory);
        string kept = Path.Combine(directory, Path.GetFileName(File));
        System.IO.File.Copy(File, kept, overwrite: true);
        return kept;
    }

    /// <summary>Ends tshark (by PID) if it still runs.</summary>
    public ValueTask DisposeAsync() => _process.DisposeAsync();
}

/// <summary>Reads a pcap with tshark (Wireshark's dissectors as an independent judge), checksums validated.</summary>
public static class Pcap
{
    /// <summary>
    /// Checksum validation is off by default in Wireshark; the judge turns it on. Thrift's heuristic
    /// dissector claims arbitrary TCP payload (iperf3's bytes, now and then) and then reports it
    /// "malformed"; the frames are Ethernet/IPv4/TCP with opaque data, so it is turned off.
    /// </summary>
    private static readonly string[] Preferences =
    [
        "--disable-heuristic", "thrift_tcp",
        "--disable-heuristic", "thrift_udp",
        "-o", "ip.check_checksum:TRUE",
        "-o", "udp.check_checksum:TRUE",
        "-o", "tcp.check_checksum:TRUE",
    ];

    /// <summary>
    /// One row per frame matching <paramref name="displayFilter"/>; each field holds every occurrence
    /// (outer first, then inner) joined by '|'.
    /// </summary>
    public static async Task<IReadOnlyList<string[]>> FieldsAsync(string file, string displayFilter, params string[] fields)
    {
        var args = new List<string> { "-n", "-r", file };
        args.AddRange(Preferences);
        if (displayFilter.Length > 0)
        {
            args.AddRange(["-Y", displayFilter]);
        }

        args.AddRange(["-T", "fields", "-E", "separator=/t", "-E", "aggregator=|", "-E", "occurrence=a"]);
        foreach (string field in fields)
        {
            args.AddRange(["-e", field]);
        }

        var result = await Shell.RunAsync("tshark", args, TimeSpan.FromSeconds(60));
        Assert.True(result.ExitCode == 0, $"tshark -r {file} failed: {result.Output}");
        return result.Output
            .Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Where(line => !line.StartsWith("Running as user", StringComparison.Ordinal))
            .Select(line => line.TrimEnd('\r').Split('\t'))
            .Where(row => row.Length == fields.Length)
            .ToList();
    }

    /// <summary>
    /// Frames tshark finds malformed, with a bad checksum, or with an expert item of warning or
    /// error severity, as "frame: messages". Sequence-group items (an ICMP request whose reply fell
    /// after the capture stopped, TCP analysis of a capture's edges) judge the capture, not the bytes.
    /// </summary>
    /// <param name="scope">A display filter for the frames to judge (not the capture's markers).</param>
    public static async Task<IReadOnlyList<string>> ComplaintsAsync(string file, string scope)
    {
        const long Warning = 0x00600000;
        const long SequenceGroup = 0x02000000;
        var rows = await FieldsAsync(file, $"({scope}) && (_ws.malformed || _ws.expert)",
            "frame.number", "_ws.malformed", "_ws.expert.severity", "_ws.expert.group", "_ws.expert.message",
            "frame.protocols", "ip.src", "ip.dst", "frame.len");
        var complaints = new List<string>();
        foreach (var row in rows)
        {
            var severities = row[2].Split('|', StringSplitOptions.RemoveEmptyEntries).Select(ParseNumber).ToArray();
            var groups = row[3].Split('|', StringSplitOptions.RemoveEmptyEntries).Select(ParseNumber).ToArray();
            bool bad = row[1].Length > 0;
            for (int i = 0; i < severities.Length; i++)
            {
                long group = i < groups.Length ? groups[i] : 0;
                bad |= severities[i] >= Warning && group != SequenceGroup;
            }

            if (bad)
            {
                complaints.Add($"frame {row[0]} ({row[8]} bytes, {row[6]} → {row[7]}, {row[5]}): {row[4]}{(row[1].Length > 0 ? " [malformed]" : string.Empty)}");
            }
        }

        return complaints;
    }

    private static long ParseNumber(string text)
        => text.StartsWith("0x", StringComparison.OrdinalIgnoreCase) ? Convert.ToInt64(text[2..], 16) : long.Parse(text, System.Globalization.CultureInfo.InvariantCulture);
}
