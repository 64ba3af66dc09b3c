namespace Fabric.Lab.Tests;

public static class Traffic
{
    /// <summary>A short iperf3 TCP transfer from <paramref name="clientNs"/> to a one-off server in <paramref name="serverNs"/>.</summary>
    public static async Task TcpAsync(string clientNs, string serverNs, string serverIp, int port, string clientOptions = "")
    {
        var server = Shell.InNamespaceAsync(serverNs, $"iperf3 -s -1 -p {port}", TimeSpan.FromSeconds(40));
        await Eventually.WaitAsync(
            async () => (await Shell.InNamespaceAsync(serverNs, $"ss -Htln 'sport = :{port}'")).Output.Contains("LISTEN", StringComparison.Ordinal),
            TimeSpan.FromSeconds(20), $"iperf3 listening in {serverNs}");
        var client = await Shell.InNamespaceAsync(clientNs, $"iperf3 -c {serverIp} -p {port} -n 256K --connect-timeout 5000 {clientOptions}", TimeSpan.FromSeconds(30));
        var served = await server;
        Assert.True(client.ExitCode == 0, $"iperf3 {clientNs} → {serverIp}:{port} {clientOptions} failed:\n{client.Output}\nserver:\n{served.Output}");
    }

    /// <summary>
    /// Captures, on <paramref name="iface"/> of <paramref name="ns"/>, frames whose source MAC is
    /// <paramref name="sourceMac"/>. The end marker is a UDP datagram to port 9 that the capturing
    /// VM itself sends to <paramref name="markerPeerIp"/> (a peer of its own segment).
    /// </summary>
    public static Task<Capture> CaptureFromAsync(LabFabric lab, string ns, string ownIp, string markerPeerIp, string sourceMac, string name, string iface = "eth0")
        => Capture.StartAsync(ns, iface, $"ether src {sourceMac}", Path.Combine(lab.StatusDir, $"{name}-{Guid.NewGuid():N}.pcap"),
            new CaptureMarker($"src host {ownIp} and udp dst port 9", $"{ownIp}\t9", () => Shell.InNamespaceAsync(ns, $"echo end > /dev/udp/{markerPeerIp}/9")));
}
