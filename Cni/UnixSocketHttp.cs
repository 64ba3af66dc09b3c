using System.Net.Sockets;

namespace Fabric.Cni;

/// <summary>
/// An HTTP client whose every connection goes to one unix socket (the agent's local port API,
/// unix(7)); the request URIs' host is a placeholder. Shared, as a linked source file, by the plugin
/// and the tests' client of the same API.
/// </summary>
internal static class UnixSocketHttp
{
    /// <summary>A client of the server listening on <paramref name="socketPath"/>, base address <c>http://agent/</c>.</summary>
    public static HttpClient Create(string socketPath, TimeSpan timeout) => new(new SocketsHttpHandler
    {
        ConnectCallback = async (_, ct) =>
        {
            var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            try
            {
                await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), ct);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        },
    })
    {
        BaseAddress = new Uri("http://agent/"),
        Timeout = timeout,
    };
}
