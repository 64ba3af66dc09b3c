using Fabric.HostAgent.Configuration;

namespace Fabric.HostAgent.Ports;

/// <summary>Opens a local port with the configured backend (<see cref="AgentOptions.PortBackend"/>).</summary>
internal static class FramePorts
{
    /// <summary>Opens <paramref name="interfaceName"/> in the calling thread's network namespace.</summary>
    /// <exception cref="InvalidOperationException">The interface does not exist there.</exception>
    /// <exception cref="IOException">A socket call failed (named in the message).</exception>
    public static IFramePort Open(PortBackend backend, string interfaceName)
        => backend == PortBackend.Pcap ? PcapPort.Open(interfaceName) : AfPacketPort.Open(interfaceName);
}
