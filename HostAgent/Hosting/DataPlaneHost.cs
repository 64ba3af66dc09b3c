using System.Net;
using Fabric.HostAgent.Configuration;
using Fabric.HostAgent.Diagnostics;
using Fabric.HostAgent.LocalPorts;
using Fabric.HostAgent.Ports;
using Microsoft.Extensions.Options;

namespace Fabric.HostAgent.Hosting;

/// <summary>
/// The hosting shell of the data plane: at start it opens the attached local ports (configured, and
/// runtime ports restored from the ports file; one whose interface is gone is dropped with a warning) and the VTEP socket
/// (inside <see cref="AgentOptions.NetworkNamespace"/> when set), hands them to the output sink and
/// starts the receive loops; at stop it ends the loops and closes the sockets. It starts before,
/// and does not depend on, the cluster connection. A port that does not exist or a VTEP address
/// that is not this host's stops the agent at start with a message naming it.
/// </summary>
internal sealed partial class DataPlaneHost(
    IOptions<AgentOptions> options,
    PortRegistry registry,
    PortOutput output,
    ReceiveLoops loops,
    ILogger<DataPlaneHost> logger) : IHostedService, IDisposable
{
    private readonly AgentOptions _options = options.Value;
    private VtepSocket? _vtep;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        var address = IPAddress.Parse(_options.VtepAddress);
        var missing = new List<(LocalPort Port, string Reason)>();
        (var ports, _vtep) = NetworkNamespace.Run(_options.NetworkNamespace, () =>
        {
            var opened = new List<(LocalPort, IFramePort)>();
            try
            {
                foreach (var port in registry.Ports)
                {
                    try
                    {
                        opened.Add((port, FramePorts.Open(_options.PortBackend, port.Interface)));
                    }
                    catch (Exception ex) when (!port.Configured && ex is IOException or InvalidOperationException or System.Net.Sockets.SocketException)
                    {
                        // A runtime port whose interface went away while the agent was down (its
                        // container was removed, the host rebooted): nothing to forward for.
                        missing.Add((port, ex.Message));
                    }
                }

                return (opened, VtepSocket.Open(address, _options.VxlanPort, _options.SourcePortRange));
            }
            catch
            {
                opened.ForEach(p => p.Item2.Dispose());
                throw;
            }
        });

        foreach (var (port, reason) in missing)
        {
            Log.RestoredPortMissing(logger, port.Interface, port.PortGroup, port.Owner ?? "-", reason);
            registry.Remove(port.Interface);
            registry.ReleaseSlot(port.Slot);
        }

        output.SetVtep(_vtep);
        loops.StartVtep(_vtep);
        foreach (var (port, socket) in ports)
        {
            output.SetPort(port.Slot, socket);
            loops.StartPort(port.Slot, socket);
        }

        Log.Started(logger, _options.HostId, _options.VtepAddress, _options.VxlanPort, ports.Count, ports.Count(p => !p.Item1.Configured), _options.PortBackend.ToString(), _options.NetworkNamespace ?? "(own)",
            _options.VxlanSourcePorts, _vtep.SegmentSocketCount, _options.SourcePortRange.Count);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        // Receive loops wake at least every poll interval (100 ms); each closes its port as it ends.
        loops.Stop(TimeSpan.FromSeconds(2));
        return Task.CompletedTask;
    }

    public void Dispose() => _vtep?.Dispose();

    private static partial class Log
    {
        [LoggerMessage(EventId = AgentEventIds.DataPlaneStarted, Level = LogLevel.Information, Message = "Data plane of host {HostId} up: VTEP {Vtep}:{Port}, {Ports} local port(s) ({Restored} restored runtime port(s)) on {Backend}, network namespace {Namespace}; source ports {SourcePorts}, UDP GSO from {GsoSockets} of {SourcePortCount}")]
        public static partial void Started(ILogger logger, string hostId, string vtep, int port, int ports, int restored, string backend, string @namespace, string sourcePorts, int gsoSockets, int sourcePortCount);

        [LoggerMessage(EventId = AgentEventIds.RestoredPortMissing, Level = LogLevel.Warning, Message = "Runtime port {Interface} (port group '{PortGroup}', owner {Owner}) was not restored: its interface cannot be opened ({Reason}); dropped from the ports file")]
        public static partial void RestoredPortMissing(ILogger logger, string @interface, string portGroup, string owner, string reason);
    }
}
