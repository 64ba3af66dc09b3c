using Fabric.Addressing;
using Fabric.Grains.Diagnostics;
using Fabric.Grains.Hosting;
using Fabric.Grains.Validation;
using Microsoft.Extensions.Logging;

namespace Fabric.Grains.Switches;

/// <summary>
/// A switch's configuration: hard state, written before every call that changes it returns.
/// Calls out only to the directory (which calls nobody), so host grains may call in freely.
/// </summary>
internal sealed partial class SwitchGrain(
    [PersistentState("switch", "fabric")] IPersistentState<SwitchState> state,
    ILogger<SwitchGrain> logger) : Grain, ISwitchGrain
{
    private SwitchState State => state.State;

    private string Name => this.GetPrimaryKeyString();

    private IFabricDirectoryGrain Directory => GrainFactory.GetGrain<IFabricDirectoryGrain>(IFabricDirectoryGrain.Key);

    public async Task<SwitchConfig> ConfigureAsync(SwitchSettings settings)
    {
        Guard.Name(Name, "name");
        Guard.NotNull(settings, "settings");
        if (settings.Mtu is < SwitchSettings.MinMtu or > SwitchSettings.MaxMtu)
        {
            Guard.Throw("mtu", $"mtu {settings.Mtu} is out of range {SwitchSettings.MinMtu}..{SwitchSettings.MaxMtu}.");
        }

        if (State.Created && State.Mtu == settings.Mtu)
        {
            return Snapshot();
        }

        bool creating = !State.Created;
        if (creating)
        {
            // Listed before it exists rather than existing unlisted: a listed name with no config reads as absent.
            await Directory.RegisterSwitchAsync(Name);
        }

        State.Created = true;
        State.Mtu = settings.Mtu;
        await CommitAsync();
        if (creating)
        {
            Log.Created(logger, Name, State.Mtu, State.Version);
        }

        return Snapshot();
    }

    public Task<SwitchConfig?> GetAsync() => Task.FromResult(State.Created ? Snapshot() : null);

    public async Task<SwitchConfig> SetPortGroupAsync(string portGroup, PortGroupSpec spec)
    {
        EnsureCreated();
        var next = PortGroupValidator.Validate(portGroup, spec);
        foreach (var other in State.PortGroups.Values)
        {
            if (other.Name != portGroup && other.Vni == next.Vni)
            {
                Guard.Throw("vni", $"vni {next.Vni} is already used by port group '{other.Name}' on this switch.");
            }

            // A trunk maps each VLAN id to one port group, so two port groups cannot share one.
            if (other.Name != portGroup && next.Vlan.AccessVlan is { } vlan && other.Vlan.AccessVlan == vlan)
            {
                Guard.Throw("vlan.accessVlan", $"vlan.accessVlan {vlan} is already used by port group '{other.Name}' on this switch.");
            }

            // One switch is one addressing domain: an address must name one port group's port.
            if (other.Name != portGroup && next.Ipv4 is { } pool && other.Ipv4 is { } taken && pool.Overlaps(taken))
            {
                Guard.Throw("ipv4.subnet", $"ipv4.subnet {pool.Subnet} overlaps {taken.Subnet} of port group '{other.Name}' on this switch.");
            }

            // One uplink per host: each bridged port group has its own VLAN on it (or is the one untagged).
            if (other.Name != portGroup && next.Network == NetworkMode.Bridged && other.Network == NetworkMode.Bridged && next.UplinkVlan == other.UplinkVlan)
            {
                Guard.Throw("bridged.uplinkVlan", next.UplinkVlan is { } v
                    ? $"bridged.uplinkVlan {v} is already used by port group '{other.Name}' on this switch."
                    : $"port group '{other.Name}' is already bridged untagged on this switch; give this one a bridged.uplinkVlan.");
            }

            // One host address per port: a host port forwarded twice would go to two VMs.
            for (int i = 0; other.Name != portGroup && i < next.Forwards.Count; i++)
            {
                var forward = next.Forwards[i];
                if (other.Forwards.Any(f => f.Protocol == forward.Protocol && f.HostPort == forward.HostPort))
                {
                    Guard.Throw($"portForwards[{i}].hostPort", $"portForwards[{i}].hostPort {forward.Protocol}/{forward.HostPort} is already forwarded by port group '{other.Name}' on this switch.");
                }
            }
        }

        State.PortGroups.TryGetValue(portGroup, out var previous);
        if (previous is not null && previous.SameAs(next))
        {
            return Snapshot();
        }

        bool vniChanges = previous is null || previous.Vni != next.Vni;
        if (previous is not null && vniChanges && UsersOf(portGroup).Count != 0)
        {
            Guard.Throw("vni", $"port group '{portGroup}' is in use by hosts {string.Join(", ", UsersOf(portGroup))}; its vni cannot change while ports use it.");
        }

        if (vniChanges)
        {
            await Directory.ClaimVniAsync(next.Vni, Name, portGroup);
            try
            {
                // A new segment starts empty: whatever a port group that held this VNI before left
                // there (external VTEPs, static or learned MACs, bindings) is not the new tenant's.
                await ResetSegmentAsync(next.Vni);
            }
            catch
            {
                await Directory.ReleaseVniAsync(next.Vni, Name, portGroup);
                throw;
            }
        }

        State.PortGroups[portGroup] = next;
        try
        {
            await CommitAsync();
        }
        catch when (vniChanges)
        {
            await Directory.ReleaseVniAsync(next.Vni, Name, portGroup);
            throw;
        }

        if (previous is not null && vniChanges)
        {
            await Directory.ReleaseVniAsync(previous.Vni, Name, portGroup);
            await EndSegmentAsync(previous.Vni);
        }

        Log.PortGroupSet(logger, Name, portGroup, next.Vni.Value, State.Version);
        return Snapshot();
    }

    public async Task<SwitchConfig> RemovePortGroupAsync(string portGroup)
    {
        EnsureCreated();
        if (portGroup is null || !State.PortGroups.TryGetValue(portGroup, out var removed))
        {
            Guard.NotFound("port group", portGroup ?? "");
            return null;
        }

        var users = UsersOf(portGroup);
        if (users.Count != 0)
        {
            Guard.Throw("portGroup", $"port group '{portGroup}' is in use by ports of hosts {string.Join(", ", users)}.");
        }

        State.PortGroups.Remove(portGroup);
        await CommitAsync();
        await Directory.ReleaseVniAsync(removed.Vni, Name, portGroup);
        await EndSegmentAsync(removed.Vni);
        Log.PortGroupRemoved(logger, Name, portGroup, State.Version);
        return Snapshot();
    }

    public async Task<SwitchConfig> SetMirrorAsync(MirrorSession session)
    {
        EnsureCreated();
        Guard.NotNull(session, "session");
        session.Validate();
        if (State.Mirrors.TryGetValue(session.Name, out var current) && current == session)
        {
            return Snapshot();
        }

        if (current is null && State.Mirrors.Count >= MirrorSession.MaxPerSwitch)
        {
            Guard.Throw("name", $"switch '{Name}' has {MirrorSession.MaxPerSwitch} mirror sessions, the most it holds; remove one first.");
        }

        if (session.Encapsulation == MirrorEncapsulation.Vxlan && State.PortGroups.Values.FirstOrDefault(g => g.Vni.Value == session.Vni) is { } clash)
        {
            Guard.Throw("vni", $"VNI {session.Vni} is port group '{clash.Name}''s segment; a mirror's VNI must not be one of the switch's segments.");
        }

        State.Mirrors[session.Name] = session;
        await CommitAsync();
        return Snapshot();
    }

    public async Task<SwitchConfig> RemoveMirrorAsync(string name)
    {
        EnsureCreated();
        if (name is null || !State.Mirrors.Remove(name))
        {
            Guard.NotFound("mirror session", name ?? "");
        }

        await CommitAsync();
        return Snapshot();
    }

    public async Task<SwitchConfig> AddHostAsync(string hostId, string uplink)
    {
        EnsureCreated();
        Guard.Name(hostId, "hostId");
        Guard.Name(uplink, "uplink");
        if (State.Members.TryGetValue(hostId, out var current) && current == uplink)
        {
            return Snapshot();
        }

        State.Members[hostId] = uplink;
        await CommitAsync();
        return Snapshot();
    }

    public async Task<SwitchConfig> RemoveHostAsync(string hostId)
    {
        EnsureCreated();
        if (hostId is null || !State.Members.Remove(hostId))
        {
            Guard.NotFound("host", hostId ?? "");
        }

        await CommitAsync();
        return Snapshot();
    }

    public async Task DeleteAsync()
    {
        EnsureCreated();
        if (State.PortGroups.Count != 0)
        {
            Guard.Throw("portGroups", $"switch '{Name}' still has port groups {string.Join(", ", State.PortGroups.Keys)}; remove them first.");
        }

        if (State.AttachedHosts.Count != 0)
        {
            Guard.Throw("hosts", $"switch '{Name}' is in use by registered hosts {string.Join(", ", State.AttachedHosts.Keys)}.");
        }

        State.Created = false;
        State.Mtu = 0;
        State.Members.Clear();
        await CommitAsync();
        await Directory.UnregisterSwitchAsync(Name);
        Log.Deleted(logger, Name, State.Version);
    }

    public async Task<SwitchConfig> AttachHostPortsAsync(string hostId, IReadOnlyList<string> portGroups)
    {
        EnsureCreated();
        Guard.Name(hostId, "hostId");
        Guard.NotNull(portGroups, "portGroups");
        foreach (var portGroup in portGroups)
        {
            if (portGroup is null || !State.PortGroups.ContainsKey(portGroup))
            {
                Guard.NotFound("port group", portGroup ?? "");
            }
        }

        var used = portGroups.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        if (!State.AttachedHosts.TryGetValue(hostId, out var current) || !current.SequenceEqual(used))
        {
            State.AttachedHosts[hostId] = used;
            await WriteAsync();
        }

        return Snapshot();
    }

    public async Task DetachHostPortsAsync(string hostId)
    {
        if (hostId is not null && State.AttachedHosts.Remove(hostId))
        {
            await WriteAsync();
        }
    }

    public Task<IReadOnlyDictionary<string, IReadOnlyList<string>>> GetPortGroupUsageAsync()
    {
        var usage = State.PortGroups.Keys.ToDictionary(pg => pg, pg => (IReadOnlyList<string>)UsersOf(pg), StringComparer.Ordinal);
        return Task.FromResult<IReadOnlyDictionary<string, IReadOnlyList<string>>>(usage);
    }

    private List<string> UsersOf(string portGroup)
        => [.. State.AttachedHosts.Where(h => h.Value.Contains(portGroup, StringComparer.Ordinal)).Select(h => h.Key)];

    private void EnsureCreated()
    {
        if (!State.Created)
        {
            Guard.NotFound("switch", Name);
        }
    }

    /// <summary>Empties the segment and MAC table of <paramref name="vni"/> (both end their activation, so the next has a new epoch).</summary>
    private async Task ResetSegmentAsync(Vni vni)
    {
        await GrainFactory.GetGrain<ISegmentGrain>(vni.Value).ResetAsync();
        await GrainFactory.GetGrain<IMacTableGrain>(vni.Value).ResetAsync();
    }

    /// <summary>
    /// A released VNI's segment ends now, best effort: if a grain does not answer, the VNI is reset
    /// anyway when a port group claims it next, before anyone uses it.
    /// </summary>
    private async Task EndSegmentAsync(Vni vni)
    {
        try
        {
            await ResetSegmentAsync(vni);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            Log.SegmentNotEnded(logger, Name, vni.Value, ex.Message);
        }
    }

    private SwitchConfig Snapshot()
        => new(Name, State.Mtu, State.Version, [.. State.PortGroups.Values], [.. State.Members.Select(m => new SwitchMember(m.Key, m.Value))], [.. State.Mirrors.Values]);

    /// <summary>A configuration change: the next generation, persisted before the caller hears of it.</summary>
    private Task CommitAsync()
    {
        State.Version++;
        return WriteAsync();
    }

    private async Task WriteAsync()
    {
        try
        {
            await state.WriteOrDeactivateAsync(this);
        }
        catch (Exception exception)
        {
            Log.WriteFailed(logger, exception, Name);
            throw;
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = GrainsEventIds.SwitchCreated, Level = LogLevel.Information, Message = "Switch {Switch} created with MTU {Mtu} (version {Version})")]
        public static partial void Created(ILogger logger, string @switch, int mtu, long version);

        [LoggerMessage(EventId = GrainsEventIds.PortGroupSet, Level = LogLevel.Information, Message = "Switch {Switch}: port group {PortGroup} set on VNI {Vni} (version {Version})")]
        public static partial void PortGroupSet(ILogger logger, string @switch, string portGroup, uint vni, long version);

        [LoggerMessage(EventId = GrainsEventIds.PortGroupRemoved, Level = LogLevel.Information, Message = "Switch {Switch}: port group {PortGroup} removed (version {Version})")]
        public static partial void PortGroupRemoved(ILogger logger, string @switch, string portGroup, long version);

        [LoggerMessage(EventId = GrainsEventIds.SwitchDeleted, Level = LogLevel.Information, Message = "Switch {Switch} deleted (version {Version})")]
        public static partial void Deleted(ILogger logger, string @switch, long version);

        [LoggerMessage(EventId = GrainsEventIds.SwitchWriteFailed, Level = LogLevel.Error, Message = "Switch {Switch}: writing state failed; the activation will reload")]
        public static partial void WriteFailed(ILogger logger, Exception exception, string @switch);

        [LoggerMessage(EventId = GrainsEventIds.SegmentNotEnded, Level = LogLevel.Warning, Message = "Switch {Switch}: VNI {Vni} was released but its segment could not be reset now ({Reason}); it is reset when a port group claims the VNI next")]
        public static partial void SegmentNotEnded(ILogger logger, string @switch, uint vni, string reason);
    }
}
