using System.Net;
using Fabric.HostAgent.Configuration;
using Fabric.HostAgent.Diagnostics;
using Fabric.HostAgent.Forwarding;
using Fabric.HostAgent.Ports;
using Microsoft.Extensions.Options;

namespace Fabric.HostAgent.LocalPorts;

/// <summary>What an attach did: the port, whether it was attached by this call (false: it already was, the same way), and whether the cluster knows it yet.</summary>
internal sealed record AttachResult(LocalPort Port, bool Created, bool Registered);

/// <summary>
/// Attaches and detaches local ports while the agent runs, without touching any other port: opens
/// the interface's socket (inside the agent's network namespace), takes a slot, saves the port list,
/// publishes forwarding tables with the port (the sync loop maps it on <see cref="PortRegistry.Changed"/>)
/// and only then starts its receive loop; detaching does it backwards and forgets what the port
/// learned once its loop has ended. Both wait, at most <see cref="AgentOptions.CallTimeout"/>, until
/// the host has registered the new port list with the cluster, and say whether it did. One attach or
/// detach at a time; both are idempotent (the CNI plugin retries).
/// </summary>
internal sealed partial class PortAttacher(
    PortRegistry registry,
    PortOutput output,
    ReceiveLoops loops,
    DataPlane dataPlane,
    IOptions<AgentOptions> options,
    TimeProvider time,
    ILogger<PortAttacher> logger)
{
    private readonly SemaphoreSlim _serial = new(1, 1);
    private readonly AgentOptions _options = options.Value;


    /// <summary>Attaches <paramref name="request"/>'s interface to its port group.</summary>
    /// <exception cref="PortApiException">
    /// 400 a bad field; 404 no such interface, or a port group the switch does not have; 409 the
    /// interface is attached otherwise (another port group, MAC or owner, or configured); 503 no
    /// free slot, or the port list cannot be saved.
    /// </exception>
    public async Task<AttachResult> AttachAsync(PortRequest request, CancellationToken cancellationToken)
    {
        if (request.Check() is { } bad)
        {
            throw bad;
        }

        await _serial.WaitAsync(cancellationToken);
        LocalPort port;
        long version;
        try
        {
            if (registry.Find(request.Interface) is { } existing)
            {
                if (existing.PortGroup != request.PortGroup || existing.Configured
                    || (request.Mac is not null && !SameMac(existing.Mac, request.Mac))
                    || (request.Owner is not null && existing.Owner != request.Owner)
                    || (request.Vlan is not null && !SameVlan(existing.Vlan, request.Vlan)))
                {
                    throw new PortApiException(409, "interface", $"interface {request.Interface} is already attached to port group '{existing.PortGroup}'{(existing.Configured ? " by the configuration" : existing.Owner is { } o ? $" for {o}" : string.Empty)}.");
                }

                version = registry.Current.Version;
                port = existing;
                return new AttachResult(existing, Created: false, await registry.WaitRegisteredAsync(version, _options.CallTimeout));
            }

            if (registry.Switch is { } known && !known.PortGroups.Any(g => g.Name == request.PortGroup))
            {
                throw new PortApiException(404, "portGroup", $"port group '{request.PortGroup}' does not exist on switch '{_options.Switch}'.");
            }

            int slot = registry.ReserveSlot()
                ?? throw new PortApiException(503, null, $"every port slot is taken (Fabric:Agent:MaxPorts = {registry.Capacity}).");
            IFramePort socket;
            try
            {
                socket = NetworkNamespace.Run(_options.NetworkNamespace, () => FramePorts.Open(_options.PortBackend, request.Interface));
            }
            catch (Exception ex) when (ex is IOException or InvalidOperationException or System.Net.Sockets.SocketException)
            {
                registry.ReleaseSlot(slot);
                throw new PortApiException(404, "interface", $"interface {request.Interface} cannot be opened{(_options.NetworkNamespace is { } ns ? $" in network namespace {ns}" : string.Empty)}: {FirstLine(ex)}");
            }

            port = new LocalPort
            {
                Slot = slot,
                Interface = request.Interface,
                PortGroup = request.PortGroup,
                Mac = request.Mac is { } mac ? Addressing.MacAddress.Parse(mac).ToString() : null,
                Ipv4 = [.. (request.Ipv4 ?? []).Select(ip => IPAddress.Parse(ip).ToString())],
                Owner = request.Owner,
                Vlan = request.Vlan,
                AttachedAt = time.GetUtcNow(),
            };
            dataPlane.Counters.ResetPort(slot);
            dataPlane.Macs.ForgetPort(slot);
            try
            {
                // Saved first; the tables with the port are published on Changed, before its loop runs.
                registry.Add(port);
            }
            catch (IOException ex)
            {
                socket.Dispose();
                registry.ReleaseSlot(slot);
                throw new PortApiException(503, null, $"the port list cannot be saved ({ex.Message}); nothing was attached.");
            }

            output.SetPort(slot, socket);
            loops.StartPort(slot, socket);
            Announce(port);
            version = registry.Current.Version;
            Log.Attached(logger, port.Interface, port.PortGroup, port.Slot, port.Owner ?? "-");
        }
        finally
        {
            _serial.Release();
        }

        return new AttachResult(port, Created: true, await registry.WaitRegisteredAsync(version, _options.CallTimeout));
    }

    /// <summary>Detaches the port attached as <paramref name="interfaceName"/>; null when none is (nothing to do).</summary>
    /// <exception cref="PortApiException">409 a configured port; 503 the port list cannot be saved.</exception>
    public async Task<(LocalPort Port, bool Registered)?> DetachAsync(string interfaceName, CancellationToken cancellationToken)
    {
        await _serial.WaitAsync(cancellationToken);
        LocalPort? port;
        long version;
        try
        {
            port = registry.Find(interfaceName);
            if (port is null)
            {
                return null;
            }

            if (port.Configured)
            {
                throw new PortApiException(409, "interface", $"interface {interfaceName} is configured (Fabric:Agent:Ports); remove it from the configuration instead.");
            }

            try
            {
                // Saved first; the tables without the port are published on Changed.
                registry.Remove(interfaceName);
            }
            catch (IOException ex)
            {
                throw new PortApiException(503, null, $"the port list cannot be saved ({ex.Message}); the port stays attached.");
            }

            output.SetPort(port.Slot, null);
            int slot = port.Slot;
            _ = loops.StopPort(slot).ContinueWith(
                _ =>
                {
                    // The loop has left the data plane: nothing can learn on the slot any more.
                    dataPlane.Macs.ForgetPort(slot);
                    registry.ReleaseSlot(slot);
                },
                TaskScheduler.Default);
            version = registry.Current.Version;
            Log.Detached(logger, port.Interface, port.PortGroup, port.Slot);
        }
        finally
        {
            _serial.Release();
        }

        return (port, await registry.WaitRegisteredAsync(version, _options.CallTimeout));
    }

    /// <summary>
    /// Learns a port's given MAC with its addresses at once (queued for publishing like any learned
    /// MAC), so the fabric can reach the workload and answer ARP for it before it sends a frame.
    /// </summary>
    private void Announce(LocalPort port)
    {
        if (port.Mac is null || dataPlane.Snapshot.Ports is not { } ports || port.Slot >= ports.Length || ports[port.Slot] is not { Attached: true, Trunk: false, AccessVni: not 0 } forwarding)
        {
            return;
        }

        ulong mac = Addressing.MacAddress.Parse(port.Mac).Value;
        if (dataPlane.Macs.Learn(forwarding.AccessVni, mac, port.Slot, forwarding.MacLimit, Environment.TickCount64))
        {
            foreach (string ip in port.Ipv4)
            {
                dataPlane.Macs.Claim(forwarding.AccessVni, mac, Wire.Ipv4Address.Parse(ip));
            }
        }
    }

    private static bool SameVlan(PortVlanOptions? a, PortVlanOptions b)
        => a is not null && string.Equals(a.Mode, b.Mode, StringComparison.OrdinalIgnoreCase) && (a.TrunkRanges ?? string.Empty) == (b.TrunkRanges ?? string.Empty) && a.NativeVlan == b.NativeVlan;

    private static bool SameMac(string? a, string b) => a is not null && Addressing.MacAddress.Parse(a) == Addressing.MacAddress.Parse(b);

    private static string FirstLine(Exception ex) => (ex.InnerException ?? ex).Message.Split('\n')[0];

    private static partial class Log
    {
        [LoggerMessage(EventId = AgentEventIds.PortAttached, Level = LogLevel.Information, Message = "Port {Interface} attached to port group '{PortGroup}' (slot {Slot}, owner {Owner})")]
        public static partial void Attached(ILogger logger, string @interface, string portGroup, int slot, string owner);

        [LoggerMessage(EventId = AgentEventIds.PortDetached, Level = LogLevel.Information, Message = "Port {Interface} detached from port group '{PortGroup}' (slot {Slot})")]
        public static partial void Detached(ILogger logger, string @interface, string portGroup, int slot);
    }
}
