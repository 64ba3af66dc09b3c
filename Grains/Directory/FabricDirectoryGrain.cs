using Fabric.Addressing;
using Fabric.Grains.Diagnostics;
using Fabric.Grains.Hosting;
using Microsoft.Extensions.Logging;

namespace Fabric.Grains.Directory;

[GenerateSerializer, Alias("fabric.directory-state")]
internal sealed class FabricDirectoryState
{
    [Id(0)] public SortedSet<string> Switches { get; set; } = new(StringComparer.Ordinal);
    [Id(1)] public SortedSet<string> Hosts { get; set; } = new(StringComparer.Ordinal);
    [Id(2)] public SortedDictionary<uint, VniClaim> VniClaims { get; set; } = [];
}

/// <summary>
/// The fabric-wide lists. Calls only arrive from other grains and the API; it calls no grain, so
/// it can never be part of a call cycle.
/// </summary>
internal sealed partial class FabricDirectoryGrain(
    [PersistentState("directory", "fabric")] IPersistentState<FabricDirectoryState> state,
    ILogger<FabricDirectoryGrain> logger) : Grain, IFabricDirectoryGrain
{
    private FabricDirectoryState State => state.State;

    public Task<IReadOnlyList<string>> ListSwitchesAsync() => Task.FromResult<IReadOnlyList<string>>([.. State.Switches]);

    public Task<IReadOnlyList<string>> ListHostsAsync() => Task.FromResult<IReadOnlyList<string>>([.. State.Hosts]);

    public Task<IReadOnlyList<VniClaim>> ListVniClaimsAsync() => Task.FromResult<IReadOnlyList<VniClaim>>([.. State.VniClaims.Values]);

    public Task<VniClaim?> FindVniAsync(Vni vni) => Task.FromResult(State.VniClaims.GetValueOrDefault(vni.Value));

    public Task RegisterSwitchAsync(string switchName) => State.Switches.Add(switchName) ? WriteAsync() : Task.CompletedTask;

    public Task UnregisterSwitchAsync(string switchName) => State.Switches.Remove(switchName) ? WriteAsync() : Task.CompletedTask;

    public Task RegisterHostAsync(string hostId) => State.Hosts.Add(hostId) ? WriteAsync() : Task.CompletedTask;

    public Task UnregisterHostAsync(string hostId) => State.Hosts.Remove(hostId) ? WriteAsync() : Task.CompletedTask;

    public Task ClaimVniAsync(Vni vni, string switchName, string portGroup)
    {
        if (State.VniClaims.TryGetValue(vni.Value, out var holder))
        {
            if (holder.Switch == switchName && holder.PortGroup == portGroup)
            {
                return Task.CompletedTask;
            }

            throw new FabricValidationException(
                "vni",
                $"vni {vni} is already used by port group '{holder.PortGroup}' on switch '{holder.Switch}'; a VNI names one segment in the whole fabric.");
        }

        State.VniClaims[vni.Value] = new VniClaim(vni, switchName, portGroup);
        Log.VniClaimed(logger, vni, switchName, portGroup);
        return WriteAsync();
    }

    public Task ReleaseVniAsync(Vni vni, string switchName, string portGroup)
    {
        if (State.VniClaims.TryGetValue(vni.Value, out var holder) && holder.Switch == switchName && holder.PortGroup == portGroup)
        {
            State.VniClaims.Remove(vni.Value);
            Log.VniReleased(logger, vni, switchName, portGroup);
            return WriteAsync();
        }

        return Task.CompletedTask;
    }

    private Task WriteAsync() => state.WriteOrDeactivateAsync(this);

    private static partial class Log
    {
        [LoggerMessage(EventId = GrainsEventIds.VniClaimed, Level = LogLevel.Information, Message = "VNI {Vni} claimed by port group {PortGroup} on switch {Switch}")]
        public static partial void VniClaimed(ILogger logger, Vni vni, string @switch, string portGroup);

        [LoggerMessage(EventId = GrainsEventIds.VniReleased, Level = LogLevel.Information, Message = "VNI {Vni} released by port group {PortGroup} on switch {Switch}")]
        public static partial void VniReleased(ILogger logger, Vni vni, string @switch, string portGroup);
    }
}
