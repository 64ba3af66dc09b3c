using System.Net;
using System.Net.Sockets;

namespace Fabric.Testing;

/// <summary>
/// Loopback ports nothing listens on right now, each handed out once per test process (so two
/// fixtures starting side by side never get the same one).
/// </summary>
public static class FreePorts
{
    private static readonly HashSet<(ProtocolType, int)> HandedOut = [];

    /// <summary>A free TCP port on 127.0.0.1.</summary>
    public static int Tcp() => Next(ProtocolType.Tcp);

    /// <summary>A free UDP port on 127.0.0.1.</summary>
    public static int Udp() => Next(ProtocolType.Udp);

    private static int Next(ProtocolType protocol)
    {
        while (true)
        {
            int port;
            if (protocol == ProtocolType.Tcp)
            {
                var listener = new TcpListener(IPAddress.Loopback, 0);
                listener.Start();
                port = ((IPEndPoint)listener.LocalEndpoint).Port;
                listener.Stop();
            }
            else
            {
                using var client = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
                port = ((IPEndPoint)client.Client.LocalEndPoint!).Port;
            }

            lock (HandedOut)
            {
                if (HandedOut.Add((protocol, port)))
                {
                    return port;
                }
            }
        }
    }
}
