using Fabric.Addressing;
using Fabric.HostAgent.Forwarding;
using static Fabric.HostAgent.Tests.Forwarding.ForwardingLab;
using static Fabric.HostAgent.Tests.Wire.TestFrames;

namespace Fabric.HostAgent.Tests.Forwarding;

/// <summary>The tables a restarted agent forwards on until the cluster answers (warm start).</summary>
[Trait("Category", "Unit")]
public sealed class ForwardingCacheTests : IDisposable
{
    private static readonly DateTimeOffset Saved = new(2026, 11, 25, 4, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan MaxAge = TimeSpan.FromSeconds(60);
    private readonly string _dir = Directory.CreateTempSubdirectory("fabric-cache-test-").FullName;

    private string File => Path.Combine(_dir, "forwarding.json");

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Loaded_tables_forward_every_kind_of_frame_exactly_as_the_saved_ones()
    {
        var original = new ForwardingLab();
        original.BindArp(VniA, Ipv4Address("192.168.10.20"), RemoteA);
        ForwardingCache.Save(File, "h1", "dvs", original.Snapshot, Saved);

        var restarted = new ForwardingLab();
        var loaded = Load(restarted, now: Saved + TimeSpan.FromSeconds(5), out string reason);
        Assert.True(loaded is not null, reason);
        restarted.DataPlane.Publish(loaded);
        Assert.Equal(original.Snapshot.Generation, loaded.Generation);

        byte[][] fromPort0 =
        [
            Frame(RemoteA, Mac(0x100)),                                              // known remote: unicast to its VTEP
            Broadcast(Mac(0x100)),                                                   // flood: local ports and flood list
            Frame(Mac(0x999), Mac(0x100)),                                           // unknown unicast
            ArpRequest(Mac(0x100), Ipv4Address("192.168.10.10"), Ipv4Address("192.168.10.20")), // suppressed
        ];
        foreach (var lab in new[] { original, restarted })
        {
            foreach (var frame in fromPort0)
            {
                lab.FromPort(0, frame);
            }

            lab.FromPort(TrunkPort, Frame(RemoteB, Mac(0x200), vid: VidB));          // trunk VID → VNI B
            lab.FromVtep(Peer2, Datagram(VniA, Broadcast(RemoteA)));                 // accepted from a VTEP of A
            lab.FromVtep(Stranger, Datagram(VniA, Broadcast(RemoteA)));              // dropped: not a VTEP of A
        }

        Assert.Equal(Describe(original), Describe(restarted));
        Assert.Equal(original.TotalDrops(), restarted.TotalDrops());
        Assert.Equal(1, restarted.Total.ArpSuppressed);
    }

    [Fact]
    public void Tables_of_another_host_switch_or_port_list_or_too_old_are_not_used()
    {
        var lab = new ForwardingLab();
        ForwardingCache.Save(File, "h1", "dvs", lab.Snapshot, Saved);

        Assert.Null(Load(lab, Saved + TimeSpan.FromSeconds(61), out string old));
        Assert.Contains("older than 60 s", old, StringComparison.Ordinal);
        Assert.Null(Load(lab, Saved - TimeSpan.FromSeconds(10), out _)); // saved "in the future": a clock jump
        Assert.Null(Load(lab, Saved, out string other, hostId: "h2"));
        Assert.Contains("another host", other, StringComparison.Ordinal);
        Assert.Null(Load(lab, Saved, out _, switchName: "dvs2"));
        Assert.Null(Load(lab, Saved, out _, portNames: [.. lab.Snapshot.Ports.Select(p => p.Name).Reverse()]));
        Assert.NotNull(Load(lab, Saved + MaxAge, out _));
    }

    [Theory]
    [InlineData("")]
    [InlineData("{")]
    [InlineData("[]")]
    [InlineData("{\"HostId\":\"h1\",\"Switch\":\"dvs\"}")]
    [InlineData("{\"HostId\":\"h1\",\"Switch\":\"dvs\",\"SavedAtUnixMs\":1795579200000,\"Ports\":[],\"Segments\":[{\"Vni\":1,\"LocalPorts\":[7]}]}")]
    public void A_missing_or_damaged_file_means_a_cold_start_not_a_crash(string content)
    {
        var lab = new ForwardingLab();
        Assert.Null(Load(lab, Saved, out string missing));
        Assert.Equal("no saved tables", missing);

        System.IO.File.WriteAllText(File, content);
        Assert.Null(Load(lab, Saved, out string reason, portNames: []));
        Assert.StartsWith("unreadable", reason, StringComparison.Ordinal);
    }

    private ForwardingSnapshot? Load(ForwardingLab lab, DateTimeOffset now, out string reason, string hostId = "h1", string switchName = "dvs", string[]? portNames = null)
        => ForwardingCache.Load(File, hostId, switchName, [.. (portNames ?? [.. lab.Snapshot.Ports.Select(p => p.Name)]).Select((name, slot) => (slot, name))], lab.Snapshot.Ports.Length, MaxAge, now, lab.Counters, lab.Vtep, out reason);

    private static uint Ipv4Address(string text) => HostAgent.Wire.Ipv4Address.Parse(text);

    private static string[] Describe(ForwardingLab lab)
        => [.. lab.Output.Frames.Select(f => $"port {f.Port}: {Convert.ToHexString(f.Frame)}"),
            .. lab.Output.Datagrams.Select(d => $"vtep {d.OuterDestination} vni {d.Vni}: {Convert.ToHexString(d.Inner)}")];
}
