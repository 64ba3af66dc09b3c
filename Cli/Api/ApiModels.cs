using System.Text.Json;
using System.Text.Json.Serialization;

namespace Fabric.Cli.Api;

// The answers of the management API as fabricctl reads them for its tables (README "Management
// API", Silo/Api/ApiModels.cs; the agent's status is HostAgent/Status/AgentStatus.cs; trace and
// mirror sessions follow issue 13's contracts). Read tolerantly: a field the server does not send is
// null or empty, a field fabricctl does not know is ignored, so an older or newer silo still prints.

/// <summary>A switch: <c>GET /api/switches/{name}</c>.</summary>
internal sealed record SwitchView(string Name, int Mtu, long Version, IReadOnlyList<PortGroupView>? PortGroups, IReadOnlyList<SwitchMemberView>? Members,
    IReadOnlyList<HostGenerationView>? Hosts, bool AppliedOnEveryHost);

/// <summary>A host that is a member of a switch, with its uplink.</summary>
internal sealed record SwitchMemberView(string HostId, string? Uplink);

/// <summary>The configuration generation a host has applied.</summary>
internal sealed record HostGenerationView(string HostId, long AppliedGeneration, bool Alive);

/// <summary>A port group: <c>PUT/GET /api/switches/{name}/portgroups/{pg}</c>.</summary>
internal sealed record PortGroupView(string Name, uint Vni, VlanPolicyView? Vlan, SecurityPolicyView? Security, IReadOnlyList<string>? ForwardReservedGroups,
    Ipv4PoolView? Ipv4, bool Routed, string? Network, IReadOnlyList<PortForwardView>? PortForwards, BridgedView? Bridged);

/// <summary>A port group's VLAN policy.</summary>
internal sealed record VlanPolicyView(string? Mode, int? AccessVlan, IReadOnlyList<string>? TrunkRanges, int? NativeVlan);

/// <summary>A port group's security policy.</summary>
internal sealed record SecurityPolicyView(int MacLimit, bool AllowForgedTransmits, bool AllowPromiscuous);

/// <summary>A port group's IPv4 pool.</summary>
internal sealed record Ipv4PoolView(string Subnet, string? Gateway, IReadOnlyList<string>? Ranges, IReadOnlyList<string>? Exclude, bool Dhcp, IReadOnlyList<string>? DnsServers, int LeaseTime);

/// <summary>A NAT port forward.</summary>
internal sealed record PortForwardView(string Protocol, int HostPort, string VmAddress, int VmPort);

/// <summary>A bridged port group's uplink VLAN.</summary>
internal sealed record BridgedView(int? UplinkVlan);

/// <summary>An address IPAM handed out.</summary>
internal sealed record IpAllocationView(string Address, string? Gateway, string Owner, string HostId, DateTimeOffset AllocatedAt, DateTimeOffset? ExpiresAt);

/// <summary>A segment and its flood list: <c>GET /api/segments/{vni}</c>.</summary>
internal sealed record SegmentView(uint Vni, string? Switch, string? PortGroup, Guid Epoch, long Version, IReadOnlyList<FloodListEntryView>? FloodList);

/// <summary>A VTEP in a flood list.</summary>
internal sealed record FloodListEntryView(string HostId, string Vtep);

/// <summary>The FDB of a segment: <c>GET /api/segments/{vni}/macs</c>.</summary>
internal sealed record MacTableView(uint Vni, Guid Epoch, long Version, IReadOnlyList<MacEntryView>? Entries, IReadOnlyList<IpBindingView>? IpBindings);

/// <summary>A MAC table entry; <c>sequence</c> is 1 on first learn and + 1 per move (RFC 7432 §15).</summary>
internal sealed record MacEntryView(string Mac, string HostId, string Vtep, string Port, long Sequence, DateTimeOffset LearnedAt, bool Static, bool Frozen);

/// <summary>An IPv4 binding.</summary>
internal sealed record IpBindingView(string Ip, string Mac, long Sequence, bool Duplicate);

/// <summary>A host: <c>GET /api/hosts/{id}</c>; <c>managementUrl</c> is the agent's management endpoint.</summary>
internal sealed record HostView(string Id, string Vtep, string? AgentVersion, string? Switch, IReadOnlyList<HostPortView>? Ports, DateTimeOffset LastHeartbeat, bool Alive,
    long AppliedGeneration, string? ManagementUrl);

/// <summary>A port a host's agent registered.</summary>
internal sealed record HostPortView(string Name, string PortGroup);

/// <summary>A host's ports: <c>GET /api/hosts/{id}/ports</c>.</summary>
internal sealed record HostPortsView(string HostId, IReadOnlyList<HostPortView>? Registered, long RequestsVersion, IReadOnlyList<RequestedPortView>? Requested);

/// <summary>An operator's port request and how the agent carried it out.</summary>
internal sealed record RequestedPortView(string Interface, string PortGroup, string? Mac, IReadOnlyList<string>? Ipv4, string Status, string? Error);

/// <summary>An agent's status: <c>GET /api/hosts/{id}/status</c> (HostAgent/Status/AgentStatus.cs).</summary>
internal sealed record AgentStatusView(string HostId, DateTimeOffset WrittenAt, long Generation, IReadOnlyDictionary<string, long>? Total, IReadOnlyDictionary<string, long>? Vtep,
    IReadOnlyList<PortStatusView>? Ports, IReadOnlyList<SegmentStatusView>? Segments, IReadOnlyList<LocalMacStatusView>? LocalMacs, IReadOnlyList<ExternalMacStatusView>? ExternalMacs);

/// <summary>A local port's counters.</summary>
internal sealed record PortStatusView(string Name, bool Trunk, int Macs, IReadOnlyDictionary<string, long>? Counters);

/// <summary>A segment as one host forwards it.</summary>
internal sealed record SegmentStatusView(uint Vni, IReadOnlyList<string>? LocalPorts, IReadOnlyList<string>? FloodList, IReadOnlyDictionary<string, string>? RemoteMacs,
    IReadOnlyDictionary<string, string>? ArpBindings, IReadOnlyDictionary<string, long>? Counters);

/// <summary>A MAC learned on a local port.</summary>
internal sealed record LocalMacStatusView(uint Vni, string Mac, string Port, IReadOnlyList<string>? Ips);

/// <summary>A MAC learned behind an external VTEP.</summary>
internal sealed record ExternalMacStatusView(uint Vni, string Mac, string Vtep);

/// <summary>The answer of <c>POST /api/hosts/{id}/trace</c>.</summary>
internal sealed record TraceView(string? Host, string? Port, long? Vni, string? FrameHex, IReadOnlyList<TraceStepView>? Steps, string? Result, string? Drop, IReadOnlyList<TraceOutputView>? Outputs);

/// <summary>One decision of the pipeline.</summary>
internal sealed record TraceStepView(string? Stage, string? Verdict, string? Detail);

/// <summary>Where the traced frame would go: a local port, a VTEP, or the agent's DHCP server.</summary>
internal sealed record TraceOutputView(string? Kind, string? Port, string? Vtep, long? Vni, int? Vlan, bool? Flood, string? FrameHex);

/// <summary>A remote mirror session: <c>GET /api/switches/{switch}/mirrors</c>.</summary>
internal sealed record MirrorSessionView(string? Name, string? Host, string? Port, string? Direction, string? Destination, string? Encapsulation, long? Vni, long? SessionId);

/// <summary>System.Text.Json metadata for the answers, made at compile time (no reflection, Native AOT).</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(SwitchView))]
[JsonSerializable(typeof(SwitchView[]))]
[JsonSerializable(typeof(PortGroupView))]
[JsonSerializable(typeof(IpAllocationView[]))]
[JsonSerializable(typeof(SegmentView))]
[JsonSerializable(typeof(MacTableView))]
[JsonSerializable(typeof(MacEntryView))]
[JsonSerializable(typeof(HostView))]
[JsonSerializable(typeof(HostView[]))]
[JsonSerializable(typeof(HostPortsView))]
[JsonSerializable(typeof(AgentStatusView))]
[JsonSerializable(typeof(TraceView))]
[JsonSerializable(typeof(MirrorSessionView))]
[JsonSerializable(typeof(MirrorSessionView[]))]
internal sealed partial class CliJson : JsonSerializerContext;
