using System.Net;
using Fabric.HostAgent.Configuration;
using Fabric.HostAgent.Diagnostics;
using Fabric.HostAgent.Ports;
using Microsoft.Extensions.Options;

namespace Fabric.HostAgent.Hosting;

/// <summary>
/// The hosting shell of the data plane: at start it opens the local ports and the VTEP socket
/// (inside <see cref="AgentOptions.NetworkNamespace"/> when set), hands them to the output sink and
/// starts the receive loops; at stop it ends the loops and closes the sockets. It starts before,
/// and does not depend on, the cluster connection. A port that does not exist or a VTEP address
/// that is not this host's stops the agent at start with a message naming it.
/// </summary>
internal sealed partial class DataPlaneHost(
    IOptions<AgentOptions> options,
    PortOutput output,
    ReceiveLoops loops,
    ILogger<DataPlaneHost> logger) : IHostedService, IDisposable
{
    private readonly AgentOptions _options = options.Value;
    private IFramePort[] _ports = [];
    private VtepSocket? _vtep;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        var address = IPAddress.Parse(_options.VtepAddress);
        (_ports, _vtep) = NetworkNamespace.Run(_options.NetworkNamespace, () =>
        {
            var opened = new List<IFramePort>();
            try
            {
                foreach (var binding in _options.Ports)
                {
                    opened.Add(_options.PortBackend == PortBackend.Pcap ? PcapPort.Open(binding.Interface) : AfPacketPort.Open(binding.Interface));
                }

                return (opened.ToArray(), VtepSocket.Open(address, _options.VxlanPort, _options.SourcePortRange));
            }
            catch
            {
                opened.ForEach(p => p.Dispose());
                throw;
            }
        });

        output.Attach(_ports, _vtep);
        loops.Start(_ports, _vtep);
        Log.Started(logger, _options.HostId, _options.VtepAddress, _options.VxlanPort, _ports.Length, _options.PortBackend.ToString(), _options.NetworkNamespace ?? "(own)",
            _options.VxlanSourcePorts, _vtep.SegmentSocketCount, _options.SourcePortRange.Count);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        // Receive loops wake at least every poll interval (100 ms).
        loops.Stop(TimeSpan.FromSeconds(2));
        return Task.CompletedTask;
    }

    public void Dispose()
    {
        foreach (var port in _ports)
        {
            port.Dispose();
        }

        _vtep?.Dispose();
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = AgentEventIds.DataPlaneStarted, Level = LogLevel.Information, Message = "Data plane of host {HostId} up: VTEP {Vtep}:{Port}, {Ports} local port(s) on {Backend}, network namespace {Namespace}; source ports {SourcePorts}, UDP GSO from {GsoSockets} of {SourcePortCount}")]
        public static partial void Started(ILogger logger, string hostId, string vtep, int port, int ports, string backend, string @namespace, string sourcePorts, int gsoSockets, int sourcePortCount);
    }
}
