using System.Net;
using Orleans.Concurrency;

namespace Fabric.Grains;

/// <summary>
/// A host running an agent. Key: the host id (<see cref="FabricNames"/>). Identity and ports are
/// persisted; liveness is soft: a host that stops heartbeating is declared dead after
/// <c>HostLivenessOptions.DeadAfter</c>, its MACs are withdrawn and it leaves every flood list.
/// </summary>
[Alias("fabric.host")]
public interface IHostGrain : IGrainWithStringKey
{
    /// <summary>
    /// Registers (or re-registers) the host: checks the switch and port groups exist
    /// (<see cref="FabricNotFoundException"/>), joins the segments of its ports' VNIs, leaves those
    /// it no longer uses, and marks it alive.
    /// </summary>
    [Alias("register")]
    Task<HostInfo> RegisterAsync(HostRegistration registration);

    /// <summary>
    /// Reports liveness and the switch configuration generation the agent has applied. Throws
    /// <see cref="FabricNotFoundException"/> if the host never registered. When the host had been
    /// declared dead, it rejoins its flood lists and <see cref="HeartbeatAck.Revived"/> tells the agent
    /// to publish its MACs again (they were withdrawn).
    /// </summary>
    [Alias("heartbeat")]
    Task<HeartbeatAck> HeartbeatAsync(long appliedGeneration);

    /// <summary>Leaves every segment, withdraws its MACs, detaches from its switch and the directory.</summary>
    [Alias("unregister")]
    Task UnregisterAsync();

    [ReadOnly, Alias("get")]
    Task<HostInfo?> GetAsync();
}

[GenerateSerializer, Immutable, Alias("fabric.host-port")]
public sealed record HostPort([property: Id(0)] string Name, [property: Id(1)] string PortGroup);

[GenerateSerializer, Immutable, Alias("fabric.host-registration")]
public sealed record HostRegistration(
    [property: Id(0)] IPAddress Vtep,
    [property: Id(1)] string AgentVersion,
    [property: Id(2)] string Switch,
    [property: Id(3)] IReadOnlyList<HostPort> Ports);

[GenerateSerializer, Immutable, Alias("fabric.host-info")]
public sealed record HostInfo(
    [property: Id(0)] string Id,
    [property: Id(1)] IPAddress Vtep,
    [property: Id(2)] string AgentVersion,
    [property: Id(3)] string Switch,
    [property: Id(4)] IReadOnlyList<HostPort> Ports,
    [property: Id(5)] DateTimeOffset LastHeartbeat,
    [property: Id(6)] bool Alive,
    [property: Id(7)] long AppliedGeneration);

/// <summary>
/// <see cref="Revived"/>: the host had been declared dead and its MACs withdrawn; the agent should
/// publish them again. <see cref="MembershipVersion"/>: the cluster membership version as the silo
/// answering sees it. It changes when a silo joins or is declared dead; grains that lived on a dead
/// silo come back as new activations without their observers, so an agent that sees it change
/// renews its subscriptions at once instead of waiting for the periodic refresh.
/// </summary>
[GenerateSerializer, Immutable, Alias("fabric.heartbeat-ack")]
public sealed record HeartbeatAck([property: Id(0)] bool Revived, [property: Id(1)] long MembershipVersion = 0);
