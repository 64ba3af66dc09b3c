using System.Globalization;

namespace Fabric.Lab.Tests;

/// <summary>
/// One VXLAN datagram seen on the underlay switch: outer addresses and ports (first occurrences),
/// the VNI, and the inner frame's MACs (second occurrences of eth.src/eth.dst).
/// </summary>
public sealed record UnderlayDatagram(
    int Frame,
    string Source,
    string Destination,
    int SourcePort,
    int DestinationPort,
    long? Vni,
    string InnerSourceMac,
    string InnerDestinationMac,
    string Protocols,
    string ArpTarget,
    string[] UdpDestinationPorts,
    string InnerIpSource,
    string ArpSource)
{
    /// <summary>The inner frame's sender address: IPv4 source, or ARP sender.</summary>
    public string InnerSender => InnerIpSource.Length > 0 ? InnerIpSource : ArpSource;

    public bool IsArpRequestFor(string ip) => Protocols.Contains(":arp", StringComparison.Ordinal) && ArpTarget == ip && InnerDestinationMac == "ff:ff:ff:ff:ff:ff";

    public bool IsIcmp => Protocols.Contains(":icmp", StringComparison.Ordinal);

    public override string ToString() => $"#{Frame} {Source}:{SourcePort}→{Destination}:{DestinationPort} vni={Vni} {InnerSourceMac}→{InnerDestinationMac} [{Protocols}]";
}

public static class Underlay
{
    /// <summary>
    /// Captures VXLAN (udp port 4789) on the underlay switch br0 of <paramref name="lab"/>. The end
    /// marker is a datagram from the switch's own address to port 9 (discard) of host 1.
    /// </summary>
    public static Task<Capture> CaptureAsync(LabFabric lab, string name) => CaptureAnyAsync(lab, name, "udp port 4789");

    /// <summary>Captures what matches the capture <paramref name="filter"/> on the underlay switch br0, with the same end marker.</summary>
    public static Task<Capture> CaptureAnyAsync(LabFabric lab, string name, string filter)
    {
        string control = lab.Env["LAB_CONTROL_IP"];
        var marker = new CaptureMarker(
            $"src host {control} and udp dst port 9",
            $"{control}\t9",
            () => Shell.InNamespaceAsync(lab.UnderlayNamespace, $"echo end > /dev/udp/{lab.UnderlayIp(1)}/9"));
        return Capture.StartAsync(lab.UnderlayNamespace, "br0", filter, Path.Combine(lab.StatusDir, $"{name}-{Guid.NewGuid():N}.pcap"), marker);
    }

    /// <summary>
    /// Until disposed, the agent hosts' uplinks finish every offload in software (<c>ethtool -K uplink
    /// tx off</c>: checksums, and with them UDP segmentation), as a NIC without offloads does, so a
    /// capture on the underlay sees the datagrams a physical wire would carry. Left on (the lab's
    /// default), a veth hands the agent's UDP GSO sends to the other host whole, and a capture
    /// on br0 sees each as one long datagram with its outer checksum still partial, as the kernel
    /// VXLAN's own super-frames are seen.
    /// </summary>
    public static async Task<IAsyncDisposable> WireLikeUplinksAsync(LabFabric lab)
    {
        int[] hosts = [.. lab.Shape.Agents.Keys.Order()];
        foreach (int host in hosts)
        {
            await Shell.CheckedAsync(lab.HostNamespace(host), "ethtool -K uplink tx off >/dev/null");
        }

        return new Restore(async () =>
        {
            foreach (int host in hosts)
            {
                await Shell.CheckedAsync(lab.HostNamespace(host), "ethtool -K uplink tx on >/dev/null");
            }
        });
    }

    private sealed class Restore(Func<Task> restore) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync() => await restore();
    }

    /// <summary>The VXLAN datagrams of the capture (its end marker left out).</summary>
    public static async Task<IReadOnlyList<UnderlayDatagram>> ReadAsync(Capture capture)
    {
        var rows = await Pcap.FieldsAsync(capture.File, "udp.port == 4789",
            "frame.number", "ip.src", "ip.dst", "udp.srcport", "udp.dstport", "vxlan.vni", "eth.src", "eth.dst", "frame.protocols", "arp.dst.proto_ipv4", "arp.src.proto_ipv4");
        return rows.Select(r =>
        {
            string[] Occurrences(int i) => r[i].Split('|');
            string First(int i) => Occurrences(i)[0];
            string Second(int i) => Occurrences(i) is { Length: > 1 } o ? o[1].ToLowerInvariant() : string.Empty;
            return new UnderlayDatagram(
                int.Parse(r[0], CultureInfo.InvariantCulture),
                First(1),
                First(2),
                int.TryParse(First(3), out int sport) ? sport : -1,
                int.TryParse(First(4), out int dport) ? dport : -1,
                long.TryParse(First(5), out long vni) ? vni : null,
                Second(6),
                Second(7),
                r[8],
                r[9],
                Occurrences(4).Skip(1).ToArray(),
                Second(1),
                r[10]);
        }).ToList();
    }

    /// <summary>tshark's complaints about the capture's VXLAN datagrams (see <see cref="Pcap.ComplaintsAsync"/>).</summary>
    public static Task<IReadOnlyList<string>> ComplaintsAsync(Capture capture) => Pcap.ComplaintsAsync(capture.File, "udp.port == 4789");

    public static string Describe(IEnumerable<UnderlayDatagram> datagrams, int max = 40)
        => string.Join('\n', datagrams.Take(max)) + (datagrams.Count() > max ? $"\n... ({datagrams.Count()} in all)" : string.Empty);
}
