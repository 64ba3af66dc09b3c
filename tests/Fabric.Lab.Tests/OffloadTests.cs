using System.Globalization;

namespace Fabric.Lab.Tests;

/// <summary>
/// 2 hosts × 1 VM whose interfaces keep their default offloads (tx checksumming, TSO, GSO, as every
/// container veth and virtio NIC has), agents on the default AF_PACKET backend.
/// </summary>
public sealed class OffloadFixture() : LabFabric(DefaultShape)
{
    public const long WebVni = 5001;

    public static LabShape DefaultShape { get; } = new()
    {
        Stem = "fo",
        Hosts = 2,
        Vms = 1,
        Groups = 1,
        PortGroups = [new("web", $$"""{"vni":{{WebVni}}}""")],
        Agents = new Dictionary<int, IReadOnlyList<PortBinding>> { [1] = [new("vm1", "web")], [2] = [new("vm1", "web")] },
        FloodLists = new Dictionary<long, int[]> { [WebVni] = [1, 2] },
    };
}

[CollectionDefinition(Name)]
public sealed class OffloadCollection : ICollectionFixture<OffloadFixture>
{
    public const string Name = "offload lab";
}

/// <summary>
/// What VMs with their offloads on send (GSO super-frames, partial checksums) crosses the underlay as
/// valid VXLAN whose inner frames fit the MTU and carry correct checksums (tshark judges), and
/// arrives whole.
/// </summary>
[Collection(OffloadCollection.Name)]
[Trait("Category", "Lab")]
public sealed class OffloadTests(OffloadFixture lab)
{
    /// <summary>Sends UDP datagrams of <paramref name="sizes"/> payload bytes, then one UDP GSO burst of 10 × 1200 (UDP_SEGMENT), from h1-vm1.</summary>
    private string SenderScript(int[] sizes, int port) =>
        "import socket\n" +
        "s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n" +
        $"for n in [{string.Join(',', sizes)}]:\n" +
        $"  s.sendto(bytes((i*7)%251 for i in range(n)),('{lab.VmIp(2, 1)}',{port}))\n" +
        "s.setsockopt(17,103,1200)\n" +
        $"s.sendto(bytes((i*3)%253 for i in range(12000)),('{lab.VmIp(2, 1)}',{port}))\n";

    /// <summary>Counts UDP datagrams on <paramref name="port"/> in h2-vm1 and checks each payload's pattern; prints "got N bad M" on "done".</summary>
    private static string ReceiverScript(int port) =>
        "import socket,select,sys\n" +
        "s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n" +
        $"s.bind(('0.0.0.0',{port}))\n" +
        "print('ready',flush=True)\n" +
        "got=0;bad=0;sizes=[]\n" +
        "while True:\n" +
        "  r,_,_=select.select([s],[],[],8)\n" +
        "  if not r: break\n" +
        "  d=s.recv(65535)\n" +
        "  got+=1;sizes.append(len(d))\n" +
        "  ok=any(all(d[i]==((i+1200*k)*3)%253 for i in range(len(d))) for k in range(10)) if len(d)==1200 else all(d[i]==(i*7)%251 for i in range(len(d)))\n" +
        "  bad+=0 if ok else 1\n" +
        "print('sizes',' '.join(map(str,sorted(sizes))),flush=True)\n" +
        "print('got',got,'bad',bad,flush=True)\n";

    [Fact]
    public async Task Tcp_from_a_vm_with_tso_crosses_as_mtu_sized_segments_whose_checksums_verify()
    {
        await using var wire = await Underlay.WireLikeUplinksAsync(lab);
        await using var capture = await Underlay.CaptureAsync(lab, "offload-tcp");
        await Traffic.TcpAsync(lab.VmNamespace(1, 1), lab.VmNamespace(2, 1), lab.VmIp(2, 1), 5601, "-n 4M");
        await Traffic.TcpAsync(lab.VmNamespace(2, 1), lab.VmNamespace(1, 1), lab.VmIp(1, 1), 5602, "-n 4M");
        await capture.StopAsync();

        var sizes = await Pcap.FieldsAsync(capture.File, "udp.port == 4789 && tcp", "frame.len", "tcp.len");
        int[] tcpLengths = [.. sizes.Select(r => int.Parse(r[1].Split('|')[^1], CultureInfo.InvariantCulture))];
        int[] frameLengths = [.. sizes.Select(r => int.Parse(r[0], CultureInfo.InvariantCulture))];
        Assert.True(tcpLengths.Count(l => l > 1000) > 2000, $"expected thousands of full segments, saw {tcpLengths.Length} TCP datagrams");
        Assert.True(frameLengths.Max() <= 1514, $"an outer frame of {frameLengths.Max()} bytes: segments must fit the 1500-byte underlay");
        var complaints = await Underlay.ComplaintsAsync(capture);
        Assert.True(complaints.Count == 0, $"tshark complains about {capture.Keep()}:\n{string.Join('\n', complaints.Take(20))}");
    }

    [Fact]
    public async Task Udp_of_every_size_class_and_a_udp_gso_burst_arrive_whole_with_checksums_that_verify()
    {
        int[] sizes = [1, 18, 64, 512, 1000, 1400, 1422];
        var receiver = await lab.Fabric.StartHelperAsync("udp receiver", lab.VmNamespace(2, 1), "ready", "python3", "-u", "-c", ReceiverScript(5603));
        await using var wire = await Underlay.WireLikeUplinksAsync(lab);
        await using var capture = await Underlay.CaptureAsync(lab, "offload-udp");

        await Shell.CheckedAsync(lab.VmNamespace(1, 1), $"python3 -c \"{SenderScript(sizes, 5603)}\"");
        await receiver.WaitForOutputAsync("got ", TimeSpan.FromSeconds(30));
        await capture.StopAsync();

        string output = receiver.Output.Text;
        var expected = sizes.Concat(Enumerable.Repeat(1200, 10)).Order();
        string line = output.Split('\n').First(l => l.StartsWith("sizes", StringComparison.Ordinal)).Trim();
        Assert.Equal("sizes " + string.Join(' ', expected), line);
        Assert.Contains("got 17 bad 0", output, StringComparison.Ordinal);
        var complaints = await Underlay.ComplaintsAsync(capture);
        Assert.True(complaints.Count == 0, $"tshark complains about {capture.Keep()}:\n{string.Join('\n', complaints.Take(20))}");
        var udp = await Pcap.FieldsAsync(capture.File, "udp.port == 4789 && udp.dstport == 5603", "udp.length");
        Assert.Equal(17, udp.Count);
    }

    [Fact]
    public async Task Over_uplinks_that_take_udp_gso_a_tcp_stream_crosses_as_gso_trains_and_arrives_byte_for_byte()
    {
        // The lab's default uplinks (veth, offloads on) carry a UDP GSO send whole to the other host,
        // as they carry the kernel VXLAN's super-frames: the capture on br0 sees datagrams longer than
        // the 1,500-byte MTU only if the agent sent trains.
        const int bytes = 16 * 1024 * 1024;
        string receive =
            "import socket,hashlib\n" +
            "l=socket.socket();l.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n" +
            $"l.bind(('{lab.VmIp(2, 1)}',5604));l.listen(1);print('ready',flush=True)\n" +
            "c,_=l.accept();h=hashlib.sha256();n=0\n" +
            "while True:\n" +
            "  d=c.recv(1<<20)\n" +
            "  if not d: break\n" +
            "  h.update(d);n+=len(d)\n" +
            "print('received',n,h.hexdigest(),flush=True)\n";
        string send =
            "import socket,hashlib,random\n" +
            $"d=random.Random(7348).randbytes({bytes})\n" +
            $"s=socket.create_connection(('{lab.VmIp(2, 1)}',5604),timeout=20);s.sendall(d);s.close()\n" +
            "print('sent',len(d),hashlib.sha256(d).hexdigest(),flush=True)\n";
        var receiver = await lab.Fabric.StartHelperAsync("tcp receiver", lab.VmNamespace(2, 1), "ready", "python3", "-u", "-c", receive);
        var before = (await lab.Status(2).ReadFreshAsync()).Total;
        await using var capture = await Underlay.CaptureAsync(lab, "offload-uso");

        var sent = await Shell.InNamespaceAsync(lab.VmNamespace(1, 1), $"python3 -c \"{send}\"", TimeSpan.FromSeconds(60));
        Assert.True(sent.ExitCode == 0, sent.Output);
        await receiver.WaitForOutputAsync("received ", TimeSpan.FromSeconds(30));
        await capture.StopAsync();

        string digest = sent.Output.Trim().Split(' ')[^1];
        Assert.Contains($"received {bytes} {digest}", receiver.Output.Text, StringComparison.Ordinal);
        var lengths = (await Pcap.FieldsAsync(capture.File, "udp.port == 4789 && ip.src == " + lab.UnderlayIp(1), "frame.len"))
            .Select(r => int.Parse(r[0], CultureInfo.InvariantCulture)).ToList();
        Assert.True(lengths.Count(l => l > 1514) > 10, $"expected UDP GSO trains (datagrams over 1,514 bytes before the kernel cuts them), saw {lengths.Count} datagrams, longest {lengths.DefaultIfEmpty().Max()}");
        var after = (await lab.Status(2).ReadFreshAsync()).Total;
        Assert.Equal(before.GetValueOrDefault("drop.Malformed"), after.GetValueOrDefault("drop.Malformed"));
    }

    /// <summary>(name, rt_priority, policy) of the agent's receive threads, from /proc (proc(5) stat fields 40 and 41).</summary>
    private static List<(string Name, int Priority, int Policy)> ReceiveThreads(int pid)
        => Directory.GetDirectories($"/proc/{pid}/task")
            .Select(task => (Name: File.ReadAllText(Path.Combine(task, "comm")).Trim(), Stat: File.ReadAllText(Path.Combine(task, "stat"))))
            .Where(t => t.Name is "vtep" || t.Name.StartsWith("port ", StringComparison.Ordinal))
            .Select(t =>
            {
                // After the ")" closing comm come fields 3.. .
                string[] fields = t.Stat[(t.Stat.LastIndexOf(')') + 2)..].Split(' ');
                return (t.Name, int.Parse(fields[40 - 3], CultureInfo.InvariantCulture), int.Parse(fields[41 - 3], CultureInfo.InvariantCulture));
            })
            .OrderBy(t => t.Name, StringComparer.Ordinal)
            .ToList();

    [Fact]
    public async Task The_agents_receive_threads_run_sched_fifo_at_the_configured_priority_when_not_saturated()
    {
        int pid = lab.Fabric.Agents[1]!.Pid;

        // SCHED_FIFO = 1 (sched(7)); default Fabric:Agent:ReceiveRealtimePriority = 10. A thread that
        // was saturated by another test's transfer is real-time again within a few idle windows.
        List<(string, int, int)> expected = [("port vm1", 10, 1), ("vtep", 10, 1)];
        var seen = new List<(string Name, int Priority, int Policy)>();
        await Eventually.WaitAsync(() =>
        {
            seen = ReceiveThreads(pid);
            return seen.SequenceEqual(expected);
        }, TimeSpan.FromSeconds(5), "the agent's receive threads run SCHED_FIFO priority 10");
        Assert.Equal(expected, seen);
    }
}
