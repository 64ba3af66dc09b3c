using System.Net;
using Fabric.Addressing;
using Fabric.Grains;
using Fabric.HostAgent.Configuration;
using Fabric.HostAgent.Diagnostics;
using Fabric.HostAgent.Forwarding;
using Fabric.HostAgent.Wire;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Fabric.HostAgent.Dhcp;

/// <summary>
/// The agent's DHCP server (RFC 2131) for the port groups whose pool serves DHCP
/// (<see cref="Ipv4Pool.Dhcp"/>): takes the client messages the data plane punts
/// (<see cref="DhcpPunts"/>), leases addresses from the port group's IPAM grain under the owner
/// <c>dhcp/{client MAC}</c> (so a lease follows its VM from host to host, and a renewal, a restart or
/// a retransmission gets the same address), and answers on the client's port from the gateway
/// (<see cref="PortGroup.GatewayMac"/>, the gateway address as server identifier) with the subnet
/// mask, router, DNS servers, interface MTU (the switch's) and lease time. An acknowledged lease
/// binds the address to the client's MAC at once (learned and claimed on its port, published as an
/// IP binding for ARP suppression and routing), before the client speaks. Off the forwarding path:
/// one task, grain calls bounded by <c>CallTimeout</c>; a request it cannot serve (cluster
/// unreachable) gets no answer, and the client retransmits.
/// </summary>
internal sealed partial class DhcpServer(
    DhcpPunts punts,
    DataPlane dataPlane,
    IClusterClient client,
    IOptions<AgentOptions> options,
    TimeProvider time,
    ILogger<DhcpServer> logger) : BackgroundService
{
    /// <summary>The IPAM owner of a client's lease: <c>dhcp/</c> and its MAC (IPAM keeps these out of per-host garbage collection).</summary>
    public static string OwnerOf(MacAddress client) => IpAllocationRequest.DhcpOwnerPrefix + client.ToString();

    /// <summary>How long an OFFER holds its address for the client's REQUEST: 60 s (a held lease is only extended, never cut).</summary>
    public const int OfferHoldSeconds = 60;

    private readonly byte[] _request = new byte[DhcpPunts.MaxFrameLength];
    private readonly byte[] _reply = new byte[DhcpReply.MaxFrameLength];
    private readonly uint[] _dns = new uint[DhcpReply.MaxDnsServers];
    private readonly ForwardingScratch _scratch = new();
    private ushort _identification;

    /// <summary>Messages answered with an OFFER or ACK.</summary>
    public long Answered { get; private set; }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await punts.Signal.WaitAsync(stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            while (punts.TryTake(_request, out int length, out int port, out uint vni))
            {
                try
                {
                    await ServeAsync(length, port, vni, stoppingToken);
                }
                catch (Exception ex) when (ex is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
                {
                    Log.Refused(logger, "?", "?", port, ex.Message);
                }
            }
        }
    }

    private async Task ServeAsync(int length, int port, uint vni, CancellationToken ct)
    {
        var snapshot = dataPlane.Snapshot;
        if (!snapshot.Segments.TryGetValue(vni, out var segment) || segment.Dhcp is not { } scope)
        {
            return; // the port group stopped serving DHCP meanwhile
        }

        if (!TryRead(length, out var fields))
        {
            return;
        }

        var (type, ciaddr, requested, serverId, chaddr) = fields;
        string owner = OwnerOf(chaddr);
        string portName = snapshot.Ports[port].Name;
        switch (type)
        {
            case DhcpMessageType.Discover:
            {
                var lease = await LeaseAsync(scope, owner, scope.Contains(requested) ? requested : 0, allowOther: true, OfferHoldSeconds, ct);
                if (lease is not null)
                {
                    Send(DhcpMessageType.Offer, scope, snapshot.Mtu, port, vni, length, lease.Value);
                }

                return;
            }

            case DhcpMessageType.Request:
            {
                if (serverId != 0 && serverId != scope.Gateway)
                {
                    return; // RFC 2131 §4.3.2: the client chose another server's offer
                }

                uint wanted = requested != 0 ? requested : ciaddr;
                uint? lease = wanted != 0 && scope.Contains(wanted) ? await LeaseAsync(scope, owner, wanted, allowOther: false, scope.LeaseTime, ct) : null;
                if (lease is null)
                {
                    Log.Refused(logger, chaddr.ToString(), Ipv4Address.Format(wanted), port, "not this client's address in this subnet");
                    Send(DhcpMessageType.Nak, scope, snapshot.Mtu, port, vni, length, 0);
                    return;
                }

                Send(DhcpMessageType.Ack, scope, snapshot.Mtu, port, vni, length, lease.Value);

                // The lease is an IP binding: learned and claimed on the client's port now, so every
                // host answers ARP for it and routes to it before the client says a word.
                var forwarding = snapshot.Ports[port];
                if (dataPlane.Macs.Learn(vni, chaddr.Value, port, forwarding.MacLimit, Environment.TickCount64))
                {
                    dataPlane.Macs.Claim(vni, chaddr.Value, lease.Value);
                }

                Log.Leased(logger, chaddr.ToString(), Ipv4Address.Format(lease.Value), portName, scope.LeaseTime);
                return;
            }

            case DhcpMessageType.Release or DhcpMessageType.Decline:
                await Ipam(scope).ReleaseAsync(owner).WaitAsync(options.Value.CallTimeout, time, ct);
                Log.Released(logger, chaddr.ToString(), type.ToString(), portName);
                return;

            case DhcpMessageType.Inform:
                // RFC 2131 §4.3.5: configuration only, no lease, to the client's own address.
                Send(DhcpMessageType.Ack, scope, snapshot.Mtu, port, vni, length, 0, inform: true);
                return;
        }
    }

    /// <summary>
    /// The DHCP message of the punted frame in <see cref="_request"/> (IPv4, UDP, BOOTP, RFC 2131),
    /// read again by <see cref="Send"/> for the reply's fields (a ref struct cannot wait for IPAM).
    /// </summary>
    private bool TryReadMessage(int length, out DhcpMessage message)
    {
        message = default;
        var frame = _request.AsSpan(0, length);
        return Ipv4Packet.TryParse(frame.Slice(EthernetFrame.HeaderLength), out var ipv4, out _, verifyChecksum: false)
            && UdpDatagram.TryParse(ipv4.Payload, out var udp, out _)
            && DhcpMessage.TryRead(udp.Payload, out message, out _);
    }

    private bool TryRead(int length, out (DhcpMessageType Type, uint Ciaddr, uint Requested, uint ServerId, MacAddress Chaddr) fields)
    {
        fields = default;
        if (!TryReadMessage(length, out var message)
            || message.Op != DhcpMessage.BootRequest
            || message.RelayAddress != 0
            || message.ClientHardwareAddress != MacAddress.Read(_request.AsSpan(EthernetFrame.MacLength)))
        {
            // Relayed requests are not served (the agent is on the client's segment); a chaddr that
            // is not the frame's source is a client asking for someone else.
            return false;
        }

        fields = (message.MessageType, message.ClientAddress, message.RequestedAddress, message.ServerIdentifier, message.ClientHardwareAddress);
        return true;
    }

    /// <summary>
    /// The client's address from IPAM: the one it holds, else <paramref name="wanted"/> if free, else
    /// (only when <paramref name="allowOther"/>, for a DISCOVER) any; null when IPAM refuses.
    /// </summary>
    private async Task<uint?> LeaseAsync(DhcpScope scope, string owner, uint wanted, bool allowOther, int leaseSeconds, CancellationToken ct)
    {
        var ipam = Ipam(scope);
        var timeout = options.Value.CallTimeout;
        try
        {
            var allocation = await ipam.AllocateAsync(new IpAllocationRequest(owner, options.Value.HostId, wanted == 0 ? null : Ipv4Address.ToIPAddress(wanted), leaseSeconds)).WaitAsync(timeout, time, ct);
            return Ipv4Address.FromIPAddress(allocation.Address);
        }
        catch (FabricValidationException) when (allowOther && wanted != 0)
        {
            var allocation = await ipam.AllocateAsync(new IpAllocationRequest(owner, options.Value.HostId, LeaseSeconds: leaseSeconds)).WaitAsync(timeout, time, ct);
            return Ipv4Address.FromIPAddress(allocation.Address);
        }
        catch (FabricValidationException ex)
        {
            Log.Refused(logger, owner, wanted == 0 ? "any" : Ipv4Address.Format(wanted), -1, ex.Message);
            return null;
        }
    }

    /// <summary>Answers the request in <see cref="_request"/> (<paramref name="length"/> bytes) with <paramref name="type"/>, to where RFC 2131 §4.1 says.</summary>
    private void Send(DhcpMessageType type, DhcpScope scope, int mtu, int port, uint vni, int length, uint yiaddr, bool inform = false)
    {
        if (!TryReadMessage(length, out var request) || !DhcpReply.DestinationFor(in request, yiaddr, type, out uint destination, out bool broadcastMac))
        {
            return;
        }

        bool nak = type == DhcpMessageType.Nak;
        int dnsCount = Math.Min(scope.DnsServers.Length, _dns.Length);
        scope.DnsServers.AsSpan(0, dnsCount).CopyTo(_dns);
        var reply = new DhcpReplyFields
        {
            DestinationMac = broadcastMac ? MacAddress.Broadcast : request.ClientHardwareAddress,
            SourceMac = PortGroup.GatewayMac,
            SourceAddress = scope.Gateway,
            DestinationAddress = destination,
            Identification = _identification++,
            MessageType = type,
            TransactionId = request.TransactionId,
            Flags = request.Flags,
            ClientAddress = nak ? 0 : request.ClientAddress,
            YourAddress = yiaddr,
            ClientHardwareAddress = request.ClientHardwareAddress,
            ServerIdentifier = scope.Gateway,
            LeaseSeconds = inform || nak ? 0 : (uint)scope.LeaseTime,
            SubnetMask = nak ? 0 : scope.Pool.Mask,
            Router = nak ? 0 : scope.Gateway,
            DnsServers = nak ? default : _dns.AsSpan(0, dnsCount),
            InterfaceMtu = nak ? (ushort)0 : (ushort)mtu,
        };
        int written = DhcpReply.Write(_reply, reply);
        if (written > 0 && dataPlane.SendOriginated(port, vni, _reply.AsSpan(0, written), _scratch) && !nak)
        {
            Answered++;
        }
    }

    private IIpamGrain Ipam(DhcpScope scope) => client.GetGrain<IIpamGrain>(IIpamGrain.KeyOf(options.Value.Switch, scope.PortGroup));

    private static partial class Log
    {
        [LoggerMessage(EventId = AgentEventIds.DhcpLeased, Level = LogLevel.Information, Message = "DHCP: {Client} leased {Address} on port {Port} for {LeaseTime} s")]
        public static partial void Leased(ILogger logger, string client, string address, string port, int leaseTime);

        [LoggerMessage(EventId = AgentEventIds.DhcpRefused, Level = LogLevel.Warning, Message = "DHCP: {Client} asking for {Address} on port slot {Port} not served: {Reason}")]
        public static partial void Refused(ILogger logger, string client, string address, int port, string reason);

        [LoggerMessage(EventId = AgentEventIds.DhcpReleased, Level = LogLevel.Information, Message = "DHCP: {Client} gave its lease back ({How}) on port {Port}")]
        public static partial void Released(ILogger logger, string client, string how, string port);
    }
}
