using System.Net;
using Fabric.Grains;
using Fabric.HostAgent.Configuration;
using Fabric.HostAgent.Control;
using Fabric.HostAgent.Diagnostics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;

namespace Fabric.HostAgent.LocalPorts;

/// <summary>
/// The agent's local port API: HTTP/JSON on the unix socket <see cref="AgentOptions.LocalApiSocket"/>
/// (mode 0600: the agent's user and root), for the CNI plugin and hypervisor hooks on this host.
/// It attaches, detaches and lists ports (<see cref="PortAttacher"/>), and relays the calls that need
/// the cluster (IPAM of a port group, GC) to the grains, bounded by three times <see cref="AgentOptions.CallTimeout"/>.
/// Errors are <c>{"error": "...", "field": "..."}</c> with 400 (bad field), 404 (no such interface,
/// port group or port), 409 (conflict), 503 (cluster unreachable, no free slot, ports file not
/// writable). Routes (README, "Containers"):
/// <list type="bullet">
/// <item><c>GET /v1/status</c>: host, switch, whether the agent is synchronized with the cluster (<c>ready</c>), the switch MTU.</item>
/// <item><c>GET /v1/ports</c>, <c>GET /v1/ports/{interface}</c>: attached ports.</item>
/// <item><c>POST /v1/ports</c> (<see cref="PortRequest"/>: interface, portGroup, mac, ipv4, owner, vlan <c>{"mode", "trunkRanges", "nativeVlan"}</c>): attach; 201 when attached now, 200 when it already was the same way.</item>
/// <item><c>DELETE /v1/ports/{interface}</c>: detach; 404 when not attached.</item>
/// <item><c>GET /v1/portgroups/{name}</c>: VNI, MTU and IPv4 pool of a port group.</item>
/// <item><c>POST /v1/portgroups/{name}/addresses</c> <c>{"owner": "...", "requested": "10.20.0.9"?}</c>: an address from the port group's IPAM.</item>
/// <item><c>DELETE /v1/portgroups/{name}/addresses/{owner}</c>: release the owner's address (200 either way, <c>released</c> says).</item>
/// <item><c>POST /v1/portgroups/{name}/gc</c> <c>{"validOwners": [...]}</c>: release this host's addresses and detach its runtime ports of the port group whose owner is not listed (CNI GC; ports an operator requested are left alone).</item>
/// </list>
/// </summary>
internal sealed partial class LocalPortApi(
    IOptions<AgentOptions> options,
    PortRegistry registry,
    PortAttacher attacher,
    IServiceProvider services,
    TimeProvider time,
    ILogger<LocalPortApi> logger) : IHostedService, IAsyncDisposable
{
    private readonly AgentOptions _options = options.Value;
    private WebApplication? _app;

    /// <summary>
    /// How long a relayed cluster call (IPAM, GC) may take: three times <see cref="AgentOptions.CallTimeout"/>
    /// (15 s by default). A caller (a CNI ADD) waits for its answer, and a burst of container starts
    /// queues on the port group's IPAM grain; liveness is not at stake here, unlike the heartbeat's calls.
    /// </summary>
    private TimeSpan RelayTimeout => _options.CallTimeout * 3;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (_options.LocalApiSocket is not { Length: > 0 } path)
        {
            return;
        }

        // A socket file left by an agent that was killed would make the bind fail.
        if (File.Exists(path))
        {
            File.Delete(path);
        }

        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.ListenUnixSocket(path));
        var app = builder.Build();
        Map(app);
        await app.StartAsync(cancellationToken);
        if (OperatingSystem.IsLinux())
        {
            // Between the bind and this, the socket has the process umask's mode: keep it in a
            // directory only the agent's user can enter (the systemd unit's RuntimeDirectoryMode=0700).
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
        _app = app;
        Log.Listening(logger, path);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_app is not null)
        {
            await _app.StopAsync(cancellationToken);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.DisposeAsync();
        }
    }

    private void Map(WebApplication app)
    {
        var v1 = app.MapGroup("/v1");
        v1.MapGet("/status", () =>
        {
            var signals = services.GetService<ControlSignals>();
            var (version, ports) = registry.Current;
            var config = registry.Switch;
            bool connected = signals?.Connected ?? false;
            return Results.Ok(new StatusView(_options.HostId, _options.Switch, connected, connected && registry.RegisteredVersion >= version, config?.Mtu, ports.Count, registry.Capacity));
        });
        v1.MapGet("/ports", () => Results.Ok(registry.Ports.Select(PortView.Of)));
        v1.MapGet("/ports/{name}", (string name) => registry.Find(name) is { } port ? Results.Ok(PortView.Of(port)) : NotFound("interface", $"interface {name} is not attached."));
        v1.MapPost("/ports", (PortRequest? request, CancellationToken ct) => Guarded(async () =>
        {
            if (request is null)
            {
                return Error(400, null, "the body must be a JSON port request: {\"interface\", \"portGroup\", \"mac\"?, \"ipv4\"?, \"owner\"?}.");
            }

            if (request.Owner is { } owner && owner.StartsWith("fabric:", StringComparison.Ordinal))
            {
                return Error(400, "owner", "owners starting with 'fabric:' are the agent's own.");
            }

            var result = await attacher.AttachAsync(request, ct);
            var view = PortView.Of(result.Port) with { Registered = result.Registered };
            return result.Created ? Results.Created($"/v1/ports/{result.Port.Interface}", view) : Results.Ok(view);
        }));
        v1.MapDelete("/ports/{name}", (string name, CancellationToken ct) => Guarded(async () =>
            await attacher.DetachAsync(name, ct) is { } detached
                ? Results.Ok(PortView.Of(detached.Port) with { Registered = detached.Registered })
                : NotFound("interface", $"interface {name} is not attached.")));
        v1.MapGet("/portgroups/{name}", (string name) =>
        {
            if (registry.Switch is not { } config)
            {
                return Error(503, null, "the agent has not read the switch from the cluster yet.");
            }

            return config.PortGroups.FirstOrDefault(g => g.Name == name) is { } group
                ? Results.Ok(new PortGroupView(group.Name, group.Vni.Value, config.Mtu, group.Ipv4 is { } pool ? new PoolView(pool.Subnet, pool.Gateway?.ToString()) : null))
                : NotFound("portGroup", $"port group '{name}' does not exist on switch '{_options.Switch}'.");
        });
        v1.MapPost("/portgroups/{name}/addresses", (string name, AddressRequest? request) => Guarded(async () =>
        {
            if (request?.Owner is null)
            {
                return Error(400, "owner", "the body must be {\"owner\": \"...\", \"requested\": \"a.b.c.d\"?}.");
            }

            IPAddress? requested = null;
            if (request.Requested is { } text && !IPAddress.TryParse(text, out requested))
            {
                return Error(400, "requested", $"requested '{text}' is not an IPv4 address.");
            }

            var allocation = await Ipam(name).AllocateAsync(new IpAllocationRequest(request.Owner, _options.HostId, requested)).WaitAsync(RelayTimeout, time);
            return Results.Ok(AddressView.Of(allocation));
        }));
        v1.MapDelete("/portgroups/{name}/addresses/{**owner}", (string name, string owner) => Guarded(async () =>
            Results.Ok(new { released = await Ipam(name).ReleaseAsync(Uri.UnescapeDataString(owner)).WaitAsync(RelayTimeout, time) })));
        v1.MapPost("/portgroups/{name}/gc", (string name, GcRequest? request, CancellationToken ct) => Guarded(async () =>
        {
            if (request?.ValidOwners is not { } valid)
            {
                return Error(400, "validOwners", "the body must be {\"validOwners\": [\"containerId/ifName\", ...]}.");
            }

            var keep = valid.ToHashSet(StringComparer.Ordinal);
            var detached = new List<string>();
            // CNI's attachments only: an operator's requested ports are the management API's to detach.
            foreach (var port in registry.Ports.Where(p => !p.Configured && p.PortGroup == name && p.Owner is { } o && o != RequestedPort.Owner && !keep.Contains(o)))
            {
                if (await attacher.DetachAsync(port.Interface, ct) is not null)
                {
                    detached.Add(port.Interface);
                }
            }

            var released = await Ipam(name).GarbageCollectAsync(_options.HostId, keep).WaitAsync(RelayTimeout, time);
            return Results.Ok(new { detachedPorts = detached, releasedAddresses = released.Select(AddressView.Of) });
        }));
    }

    private IIpamGrain Ipam(string portGroup)
        => (services.GetService<IClusterClient>() ?? throw new PortApiException(503, null, "the agent runs without a cluster client."))
            .GetGrain<IIpamGrain>(IIpamGrain.KeyOf(_options.Switch, portGroup));

    private static async Task<IResult> Guarded(Func<Task<IResult>> action)
    {
        try
        {
            return await action();
        }
        catch (PortApiException ex)
        {
            return Error(ex.Status, ex.Field, ex.Message);
        }
        catch (FabricValidationException ex)
        {
            return Error(400, ex.Field, ex.Message);
        }
        catch (FabricNotFoundException ex)
        {
            return Error(404, null, ex.Message);
        }
        catch (Exception ex) when (ex is TimeoutException or OperationCanceledException or Orleans.Runtime.OrleansException or Orleans.Runtime.SiloUnavailableException or System.Net.Sockets.SocketException)
        {
            return Error(503, null, $"the cluster does not answer ({ClusterCalls.FirstLine(ex.Message)}); try again.");
        }
    }

    private static IResult NotFound(string field, string message) => Error(404, field, message);

    private static IResult Error(int status, string? field, string message) => Results.Json(new ErrorView(message, field), statusCode: status);

    private sealed record ErrorView(string Error, string? Field);

    private sealed record StatusView(string HostId, string Switch, bool Connected, bool Ready, int? Mtu, int Ports, int MaxPorts);

    private sealed record PortGroupView(string Name, uint Vni, int Mtu, PoolView? Ipv4);

    private sealed record PoolView(string Subnet, string? Gateway);

    private sealed record AddressRequest(string? Owner, string? Requested);

    private sealed record GcRequest(IReadOnlyList<string>? ValidOwners);

    private sealed record AddressView(string Address, int PrefixLength, string? Gateway, string Owner)
    {
        public static AddressView Of(IpAllocation a) => new(a.Address.ToString(), a.PrefixLength, a.Gateway?.ToString(), a.Owner);
    }

    private sealed record PortView(string Interface, string PortGroup, int Slot, string? Mac, IReadOnlyList<string> Ipv4, string? Owner, PortVlanOptions? Vlan, bool Configured, DateTimeOffset AttachedAt, bool? Registered = null)
    {
        public static PortView Of(LocalPort p) => new(p.Interface, p.PortGroup, p.Slot, p.Mac, p.Ipv4, p.Owner, p.Vlan, p.Configured, p.AttachedAt);
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = AgentEventIds.LocalApiListening, Level = LogLevel.Information, Message = "Local port API listening on unix socket {Path}")]
        public static partial void Listening(ILogger logger, string path);
    }
}
