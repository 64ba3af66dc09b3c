using System.Net;
using Orleans.Concurrency;

namespace Fabric.Grains;

/// <summary>
/// A host running an agent. Key: the host id (a name that follows <see cref="FabricNames"/>).
/// Identity, ports and the segments they are in are persisted; liveness is soft: a host that stops
/// heartbeating is declared dead after <c>Fabric:HostLiveness:DeadAfter</c> (15 s by default),
/// its learned MACs are withdrawn and it leaves every flood list, as an EVPN PE's routes are
/// withdrawn when it fails. A later heartbeat brings it back.
/// </summary>
/// <remarks>
/// The host grain calls the switch, segment, MAC table and directory grains; none of them calls
/// back. A failed storage write throws the storage provider's exception (for example
/// <c>Orleans.Storage.InconsistentStateException</c>) and the activation is dropped, so the next
/// call reads what was stored. A new activation (after the silo holding the grain died) gives the
/// agent a full <c>DeadAfter</c> to be heard from before declaring it dead.
/// </remarks>
[Alias("fabric.host")]
public interface IHostGrain : IGrainWithStringKey
{
    /// <summary>
    /// Registers (or re-registers) the host. The switch checks that every port group exists and
    /// records that this host's ports use them (so they cannot be removed meanwhile); the host then
    /// leaves the segments it no longer uses (withdrawing its MACs there), joins the flood list of
    /// every segment of its ports' VNIs, is listed in the directory, and is alive. A host that moved
    /// to another switch is detached from the old one; one whose VTEP changed has every MAC it had
    /// learned at the old VTEP withdrawn (its agent publishes them again). Zero ports is allowed.
    /// </summary>
    /// <param name="registration">The host's VTEP, agent version, switch and ports.</param>
    /// <returns>The host as registered.</returns>
    /// <exception cref="FabricValidationException">
    /// The grain key is not a valid name (field <c>hostId</c>); <paramref name="registration"/> is
    /// null (<c>registration</c>); the VTEP is null, unspecified, multicast or broadcast (<c>vtep</c>);
    /// the agent version is empty or longer than 64 characters (<c>agentVersion</c>); the switch name
    /// is invalid (<c>switch</c>); the port list is null (<c>ports</c>); a port is null, has an
    /// invalid name or port group name, or repeats a name (<c>ports[i]</c>, <c>ports[i].name</c>,
    /// <c>ports[i].portGroup</c>). Nothing is changed.
    /// </exception>
    /// <exception cref="FabricNotFoundException">The switch (kind <c>switch</c>) or one of the port groups (kind <c>port group</c>) does not exist.</exception>
    [Alias("register")]
    Task<HostInfo> RegisterAsync(HostRegistration registration);

    /// <summary>
    /// Reports that the agent is alive and which switch configuration generation it has applied.
    /// When the host had been declared dead, it rejoins its flood lists and
    /// <see cref="HeartbeatAck.Revived"/> tells the agent to publish its MACs again (they were
    /// withdrawn). Cheap: it writes to storage only when the generation changes or the host revives.
    /// </summary>
    /// <param name="appliedGeneration">The <see cref="SwitchConfig.Version"/> the agent's forwarding tables were built from.</param>
    /// <returns>Whether the host was revived, and the cluster membership version.</returns>
    /// <exception cref="FabricNotFoundException">Kind <c>host</c>: the host is not registered (never, or unregistered since).</exception>
    [Alias("heartbeat")]
    Task<HeartbeatAck> HeartbeatAsync(long appliedGeneration);

    /// <summary>
    /// Leaves every segment, withdraws its learned MACs (static entries stay), detaches its ports from
    /// its switch, leaves the directory and clears the grain's state.
    /// </summary>
    /// <returns>A task that completes once all of that is done.</returns>
    /// <exception cref="FabricNotFoundException">Kind <c>host</c>: the host is not registered.</exception>
    [Alias("unregister")]
    Task UnregisterAsync();

    /// <summary>
    /// Asks the host's agent to attach <paramref name="port"/> at run time (an operator's attach,
    /// the management API's <c>PUT /api/hosts/{id}/ports/{interface}</c>); replaces an earlier
    /// request for the same interface. Stored before it returns; the agent sees the new
    /// <see cref="HeartbeatAck.PortRequestsVersion"/> on its next heartbeat, attaches the port
    /// (owner <see cref="RequestedPort.Owner"/>) and reports how it went (<see cref="ReportPortRequestsAsync"/>).
    /// The host need not be registered yet.
    /// </summary>
    /// <returns>Every request of the host with its last reported status.</returns>
    /// <exception cref="FabricValidationException">
    /// <c>interface</c>: not 1..15 characters of <see cref="FabricNames"/>; <c>portGroup</c>: not a
    /// valid name; <c>mac</c>: not unicast; <c>ipv4[i]</c>: not a unicast IPv4 address, or given without a MAC.
    /// </exception>
    /// <exception cref="FabricNotFoundException">Kind <c>port group</c>: the registered host's switch has no such port group.</exception>
    [Alias("request-port")]
    Task<PortRequests> RequestPortAsync(RequestedPort port);

    /// <summary>Withdraws the request for <paramref name="interfaceName"/>; the agent detaches the port. False when there was none.</summary>
    [Alias("withdraw-port-request")]
    Task<bool> WithdrawPortRequestAsync(string interfaceName);

    /// <summary>The operator's port requests with their version and last reported status.</summary>
    [ReadOnly, Alias("get-port-requests")]
    Task<PortRequests> GetPortRequestsAsync();

    /// <summary>
    /// The agent reports, for the requests of <paramref name="version"/>, whether each is attached
    /// (null error) or why not. Kept in memory only: the agent reports again after every change and
    /// when a new activation asks (its version starts unreported).
    /// </summary>
    [Alias("report-port-requests")]
    Task ReportPortRequestsAsync(long version, IReadOnlyList<PortRequestStatus> statuses);

    /// <summary>The host as it stands, or null if it is not registered.</summary>
    /// <returns>The host, with the last heartbeat this activation heard.</returns>
    [ReadOnly, Alias("get")]
    Task<HostInfo?> GetAsync();
}

/// <summary>
/// A port of a host: a local interface bound to a port group of the host's switch. The agent
/// registers a trunk port as one sub-port per port group it carries, named
/// <c>{interface}.{vid}</c>, so the host joins every segment the trunk carries.
/// </summary>
/// <param name="Name">The port name, unique within the host; follows <see cref="FabricNames"/>.</param>
/// <param name="PortGroup">A port group of the host's switch; follows <see cref="FabricNames"/>.</param>
[GenerateSerializer, Immutable, Alias("fabric.host-port")]
public sealed record HostPort([property: Id(0)] string Name, [property: Id(1)] string PortGroup);

/// <summary>What an agent tells its host grain when it registers.</summary>
/// <param name="Vtep">The host's VTEP address on the underlay: unicast, not unspecified, multicast or broadcast. The grain accepts IPv4 or IPv6; the agent and its data plane use IPv4.</param>
/// <param name="AgentVersion">The agent's version, 1..64 characters, for operators.</param>
/// <param name="Switch">The switch the host's ports are on; it must exist.</param>
/// <param name="Ports">The host's ports; may be empty, names unique.</param>
/// <param name="ManagementUrl">
/// Where the agent's management endpoint answers (an absolute http or https URL, at most 256
/// characters; e.g. <c>http://10.0.0.1:9650</c>), from which the silo relays status, traces and
/// port mirrors; null when the agent serves none.
/// </param>
[GenerateSerializer, Immutable, Alias("fabric.host-registration")]
public sealed record HostRegistration(
    [property: Id(0)] IPAddress Vtep,
    [property: Id(1)] string AgentVersion,
    [property: Id(2)] string Switch,
    [property: Id(3)] IReadOnlyList<HostPort> Ports,
    [property: Id(4)] string? ManagementUrl = null);

/// <summary>A registered host as its grain sees it.</summary>
/// <param name="Id">The host id (the grain key).</param>
/// <param name="Vtep">The host's VTEP address on the underlay.</param>
/// <param name="AgentVersion">The version its agent reported.</param>
/// <param name="Switch">The switch its ports are on.</param>
/// <param name="Ports">Its ports, as registered.</param>
/// <param name="LastHeartbeat">
/// When the host was last heard from (UTC, the silo's clock): its last registration or heartbeat
/// as seen by the current activation. A new activation starts this at its own activation time.
/// </param>
/// <param name="Alive">False once the host was declared dead for silence, until its next heartbeat.</param>
/// <param name="AppliedGeneration">The switch configuration generation (<see cref="SwitchConfig.Version"/>) the agent last reported having applied; 0 before its first heartbeat.</param>
/// <param name="ManagementUrl">The agent's management endpoint as it registered it (<see cref="HostRegistration.ManagementUrl"/>); null when none.</param>
[GenerateSerializer, Immutable, Alias("fabric.host-info")]
public sealed record HostInfo(
    [property: Id(0)] string Id,
    [property: Id(1)] IPAddress Vtep,
    [property: Id(2)] string AgentVersion,
    [property: Id(3)] string Switch,
    [property: Id(4)] IReadOnlyList<HostPort> Ports,
    [property: Id(5)] DateTimeOffset LastHeartbeat,
    [property: Id(6)] bool Alive,
    [property: Id(7)] long AppliedGeneration,
    [property: Id(8)] string? ManagementUrl = null);

/// <summary>The answer to a heartbeat.</summary>
/// <param name="Revived">
/// The host had been declared dead and its MACs withdrawn; the agent should publish them (and
/// their IP bindings) again.
/// </param>
/// <param name="MembershipVersion">
/// The Orleans cluster membership version as the answering silo sees it. It changes when a silo
/// joins or is declared dead; grains that lived on a dead silo come back as new activations
/// without their observers, so an agent that sees it change renews its subscriptions at once
/// instead of waiting for the periodic refresh. Compare for change only: silos learn of a new
/// version at slightly different times. 0 from a silo that predates this field.
/// </param>
/// <param name="PortRequestsVersion">
/// The version of the operator's port requests for this host (<see cref="IHostGrain.RequestPortAsync"/>);
/// the agent fetches them when it changes. 0: none ever made.
/// </param>
[GenerateSerializer, Immutable, Alias("fabric.heartbeat-ack")]
public sealed record HeartbeatAck([property: Id(0)] bool Revived, [property: Id(1)] long MembershipVersion = 0, [property: Id(2)] long PortRequestsVersion = 0);

/// <summary>An operator's request that a host attach an interface at run time.</summary>
/// <param name="Interface">The interface on the host, 1..15 characters (Linux IFNAMSIZ − 1) of <see cref="FabricNames"/>.</param>
/// <param name="PortGroup">A port group of the host's switch.</param>
/// <param name="Mac">Optional: the MAC of the workload behind it (unicast).</param>
/// <param name="Ipv4">Optional: its IPv4 addresses (unicast; need <paramref name="Mac"/>), published as bindings for ARP suppression.</param>
[GenerateSerializer, Immutable, Alias("fabric.requested-port")]
public sealed record RequestedPort(
    [property: Id(0)] string Interface,
    [property: Id(1)] string PortGroup,
    [property: Id(2)] string? Mac = null,
    [property: Id(3)] IReadOnlyList<string>? Ipv4 = null)
{
    /// <summary>The owner under which the agent attaches requested ports (and detaches those no longer requested).</summary>
    public const string Owner = "operator";
}

/// <summary>What the agent made of one request: attached (no error) or the reason it could not.</summary>
/// <param name="Interface">The requested interface.</param>
/// <param name="Error">Null when attached; otherwise the agent's reason (no such interface, conflict).</param>
[GenerateSerializer, Immutable, Alias("fabric.port-request-status")]
public sealed record PortRequestStatus([property: Id(0)] string Interface, [property: Id(1)] string? Error);

/// <summary>A host's port requests.</summary>
/// <param name="Version">Grows by one with every change of the requests.</param>
/// <param name="Requests">The requests, by interface.</param>
/// <param name="ReportedVersion">The version the agent last reported on (0: none since this activation).</param>
/// <param name="Statuses">The agent's last report, by interface.</param>
[GenerateSerializer, Immutable, Alias("fabric.port-requests")]
public sealed record PortRequests(
    [property: Id(0)] long Version,
    [property: Id(1)] IReadOnlyList<RequestedPort> Requests,
    [property: Id(2)] long ReportedVersion,
    [property: Id(3)] IReadOnlyList<PortRequestStatus> Statuses);
