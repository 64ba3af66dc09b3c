using System.Net;
using System.Net.Sockets;

namespace Fabric.Lab.Tests;

/// <summary>Where the repository is and which loopback ports are free; shared by the Lab and Chaos tests.</summary>
internal static class TestEnvironment
{
    public static int FreeTcpPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Fabric.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("Fabric.sln not found above the test directory");
    }
}
