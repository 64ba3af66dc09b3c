using System.Net;
using Fabric.Grains.Hosting;
using Fabric.Grains.Validation;

namespace Fabric.Grains.Ipam;

[GenerateSerializer, Alias("fabric.ipam-state")]
internal sealed class IpamState
{
    /// <summary>Owner → its allocation.</summary>
    [Id(0)] public Dictionary<string, IpAllocation> Allocations { get; set; } = new(StringComparer.Ordinal);

    /// <summary>The last address handed out (host order): the next search starts after it.</summary>
    [Id(1)] public uint LastAllocated { get; set; }
}

/// <summary>
/// IPAM of one port group (see <see cref="IIpamGrain"/>): hard state, written before a change
/// returns. Reads the pool from the switch grain on every allocation, so a changed pool applies
/// at once; allocations made from an earlier pool stay until released.
/// </summary>
internal sealed class IpamGrain(
    [PersistentState("ipam", "fabric")] IPersistentState<IpamState> state,
    TimeProvider time) : Grain, IIpamGrain
{
    /// <summary>The longest owner id (CNI container ids are 64 hex digits; interface names 15).</summary>
    public const int MaxOwnerLength = 256;

    private IpamState State => state.State;

    public async Task<IpAllocation> AllocateAsync(IpAllocationRequest request)
    {
        Guard.NotNull(request, "request");
        CheckOwner(request.Owner);
        Guard.Name(request.HostId, "hostId");
        if (request.LeaseSeconds is { } lease && lease is < 1 or > Ipv4Pool.MaxLeaseTime)
        {
            Guard.Throw("leaseSeconds", $"leaseSeconds {lease} is out of range 1..{Ipv4Pool.MaxLeaseTime}.");
        }

        var pool = await PoolAsync();
        var now = time.GetUtcNow();
        bool purged = PurgeExpired(now);
        DateTimeOffset? expiresAt = request.LeaseSeconds is { } seconds ? now.AddSeconds(seconds) : null;
        if (State.Allocations.TryGetValue(request.Owner, out var held))
        {
            if (request.Requested is null || request.Requested.Equals(held.Address))
            {
                // Idempotent (an ADD retried by the runtime); a lease asked for again is extended
                // (never shortened; an allocation without a lease stays without one).
                if (expiresAt is { } until && held.ExpiresAt is { } current && until > current)
                {
                    held = held with { ExpiresAt = until };
                    State.Allocations[request.Owner] = held;
                    await state.WriteOrDeactivateAsync(this);
                }
                else if (purged)
                {
                    await state.WriteOrDeactivateAsync(this);
                }

                return held;
            }

            Guard.Throw("ip", $"owner '{request.Owner}' already holds {held.Address}; release it before asking for {request.Requested}.");
        }

        uint address;
        if (request.Requested is { } requested)
        {
            Guard.UnicastIPv4(requested, "ip");
            address = Ipv4.ToUInt32(requested);
            if (!pool.IsAllocatable(address))
            {
                Guard.Throw("ip", $"ip {requested} is not an allocatable address of port group pool {pool.Subnet} (ranges {string.Join(", ", pool.Ranges)}; network, broadcast, gateway and excluded addresses are not).");
            }

            if (HolderOf(address) is { } other)
            {
                Guard.Throw("ip", $"ip {requested} is held by '{other.Owner}' on host {other.HostId}.");
            }
        }
        else
        {
            address = NextFree(pool) ?? throw new FabricValidationException("ipv4.ranges", $"the pool of {pool.Subnet} is exhausted: {State.Allocations.Count} addresses are allocated.");
        }

        var allocation = new IpAllocation(Ipv4.FromUInt32(address), pool.PrefixLength, pool.Gateway, request.Owner, request.HostId, now, expiresAt);
        State.Allocations[request.Owner] = allocation;
        if (request.Requested is null)
        {
            State.LastAllocated = address;
        }

        await state.WriteOrDeactivateAsync(this);
        return allocation;
    }

    public async Task<bool> ReleaseAsync(string owner)
    {
        CheckOwner(owner);
        if (!State.Allocations.Remove(owner))
        {
            return false;
        }

        await state.WriteOrDeactivateAsync(this);
        return true;
    }

    public async Task<bool> ReleaseAddressAsync(IPAddress address)
    {
        Guard.UnicastIPv4(address, "ip");
        if (HolderOf(Ipv4.ToUInt32(address)) is not { } holder)
        {
            return false;
        }

        State.Allocations.Remove(holder.Owner);
        await state.WriteOrDeactivateAsync(this);
        return true;
    }

    public Task<IReadOnlyList<IpAllocation>> ListAsync()
    {
        var now = time.GetUtcNow();
        return Task.FromResult<IReadOnlyList<IpAllocation>>([.. State.Allocations.Values.Where(a => !(a.ExpiresAt <= now)).OrderBy(a => Ipv4.ToUInt32(a.Address))]);
    }

    /// <summary>Removes the leases that ended (RFC 2131 §3.3: the address is the server's to give again); true when one was.</summary>
    private bool PurgeExpired(DateTimeOffset now)
    {
        var ended = State.Allocations.Values.Where(a => a.ExpiresAt <= now).Select(a => a.Owner).ToList();
        foreach (string owner in ended)
        {
            State.Allocations.Remove(owner);
        }

        return ended.Count != 0;
    }

    public async Task<IReadOnlyList<IpAllocation>> GarbageCollectAsync(string hostId, IReadOnlyCollection<string> validOwners)
    {
        Guard.Name(hostId, "hostId");
        Guard.NotNull(validOwners, "validOwners");
        var valid = new HashSet<string>(validOwners, StringComparer.Ordinal);
        List<IpAllocation> stale = [.. State.Allocations.Values.Where(a => a.HostId == hostId && !valid.Contains(a.Owner) && !a.Owner.StartsWith(IpAllocationRequest.DhcpOwnerPrefix, StringComparison.Ordinal)).OrderBy(a => Ipv4.ToUInt32(a.Address))];
        if (stale.Count == 0)
        {
            return [];
        }

        foreach (var allocation in stale)
        {
            State.Allocations.Remove(allocation.Owner);
        }

        await state.WriteOrDeactivateAsync(this);
        return stale;
    }

    /// <summary>
    /// Stores the state. On failure memory is ahead of storage: the activation is dropped, so the
    /// next call reloads what was stored (nothing handed out that was not stored), and the caller
    /// gets the error (docs/architecture.md, "Grains").
    /// </summary>
    private async Task<Ipv4Pool> PoolAsync()
    {
        string key = this.GetPrimaryKeyString();
        int slash = key.IndexOf('/', StringComparison.Ordinal);
        string switchName = slash > 0 ? key[..slash] : key, portGroup = slash > 0 ? key[(slash + 1)..] : string.Empty;
        var config = await GrainFactory.GetGrain<ISwitchGrain>(switchName).GetAsync();
        if (config is null)
        {
            Guard.NotFound("switch", switchName);
        }

        var group = config!.PortGroups.FirstOrDefault(g => g.Name == portGroup);
        if (group is null)
        {
            Guard.NotFound("port group", $"{switchName}/{portGroup}");
        }

        return group!.Ipv4 ?? throw new FabricValidationException("ipv4", $"port group '{portGroup}' of switch '{switchName}' has no ipv4 pool; give it one, e.g. \"ipv4\": {{\"subnet\": \"10.20.0.0/24\", \"gateway\": \"10.20.0.1\"}}.");
    }

    private IpAllocation? HolderOf(uint address)
        => State.Allocations.Values.FirstOrDefault(a => Ipv4.ToUInt32(a.Address) == address);

    /// <summary>The first allocatable, unheld address after <see cref="IpamState.LastAllocated"/>, wrapping around once.</summary>
    private uint? NextFree(Ipv4Pool pool)
    {
        var held = State.Allocations.Values.Select(a => Ipv4.ToUInt32(a.Address)).ToHashSet();
        uint after = State.LastAllocated;
        foreach (bool wrapped in new[] { false, true })
        {
            foreach (var range in pool.Ranges)
            {
                ulong first = Ipv4.ToUInt32(range.First), last = Ipv4.ToUInt32(range.Last);
                ulong start = wrapped ? first : Math.Max(first, (ulong)after + 1);
                ulong end = wrapped ? Math.Min(last, after) : last;
                for (ulong a = start; a <= end; a++)
                {
                    if (!held.Contains((uint)a) && pool.IsAllocatable((uint)a))
                    {
                        return (uint)a;
                    }
                }
            }
        }

        return null;
    }

    private static void CheckOwner(string? owner)
    {
        if (string.IsNullOrEmpty(owner) || owner.Length > MaxOwnerLength || owner.Any(c => c is < '!' or > '~'))
        {
            Guard.Throw("owner", $"owner '{owner}' must be 1..{MaxOwnerLength} printable ASCII characters without spaces, e.g. containerId/eth0.");
        }
    }
}
