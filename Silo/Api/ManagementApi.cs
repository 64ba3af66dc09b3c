using System.Text.Json;
using System.Text.Json.Serialization;
using Fabric.Grains;

namespace Fabric.Silo.Api;

/// <summary>The JSON management API under <c>/api</c>; README "Management API" documents it.</summary>
public static class ManagementApi
{
    /// <summary>
    /// JSON as the API speaks it (camelCase, enums as camelCase strings, numbers only as JSON numbers),
    /// and unreadable bodies thrown to <see cref="UseFabricProblemMapping"/> so the answer names the field.
    /// </summary>
    /// <param name="services">The web host's services.</param>
    /// <returns><paramref name="services"/>, for chaining.</returns>
    public static IServiceCollection AddFabricApi(this IServiceCollection services)
    {
        services.ConfigureHttpJsonOptions(o =>
        {
            o.SerializerOptions.PropertyNamingPolicy = JsonNamingPolicy.CamelCase;
            o.SerializerOptions.DefaultIgnoreCondition = JsonIgnoreCondition.Never;
            o.SerializerOptions.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.CamelCase));

            // Numbers are numbers: the web defaults would take "vni":"5003" as 5003.
            o.SerializerOptions.NumberHandling = JsonNumberHandling.Strict;
        });
        // Let unreadable JSON reach ProblemMapping, which names the field, instead of a bare 400.
        services.Configure<Microsoft.AspNetCore.Routing.RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);
        return services;
    }

    /// <summary>
    /// Answers a failed call with an RFC 7807 problem: a validation error 400 naming the field, an
    /// unknown name 404, an unreachable cluster or a storage conflict 503, anything else 500.
    /// Register it before the endpoints.
    /// </summary>
    /// <param name="app">The application.</param>
    /// <returns><paramref name="app"/>, for chaining.</returns>
    public static IApplicationBuilder UseFabricProblemMapping(this IApplicationBuilder app) => app.UseMiddleware<ProblemMapping>();

    /// <summary>Maps the switches, segments, MAC tables and hosts endpoints under <c>/api</c>.</summary>
    /// <param name="app">The endpoint route builder.</param>
    /// <returns><paramref name="app"/>, for chaining.</returns>
    public static IEndpointRouteBuilder MapFabricApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api");

        api.MapGet("/switches", async (IGrainFactory grains) =>
        {
            var names = await grains.GetGrain<IFabricDirectoryGrain>(IFabricDirectoryGrain.Key).ListSwitchesAsync();
            var views = new List<SwitchView>();
            foreach (var name in names.Order(StringComparer.Ordinal))
            {
                if (await grains.GetGrain<ISwitchGrain>(name).GetAsync() is { } config)
                {
                    views.Add(SwitchView.From(config, await HostGenerationsAsync(grains, name)));
                }
            }

            return Results.Ok(views);
        });

        api.MapGet("/switches/{name}", async (string name, IGrainFactory grains) =>
        {
            RequestMapping.CheckName("name", name);
            var config = await grains.GetGrain<ISwitchGrain>(name).GetAsync() ?? throw new FabricNotFoundException("switch", name);
            return Results.Ok(SwitchView.From(config, await HostGenerationsAsync(grains, name)));
        });

        // Writes of switch configuration take ?wait=applied&timeout=10s (ApplyBarrier): checked
        // before the write, awaited after it on the generation the write produced; a route whose
        // answer does not show the hosts takes the barrier in one line (WithApplyBarrier).
        api.MapPut("/switches/{name}", async (string name, SwitchRequest? body, IGrainFactory grains, HttpContext http) =>
        {
            RequestMapping.CheckName("name", name);
            ApplyBarrier.Requested(http);
            var config = await grains.GetGrain<ISwitchGrain>(name).ConfigureAsync(RequestMapping.ToSettings(body));
            await ApplyBarrier.SwitchAppliedAsync(http, grains, name, config.Version);
            return Results.Ok(SwitchView.From(config, await HostGenerationsAsync(grains, name)));
        });

        api.MapDelete("/switches/{name}", async (string name, IGrainFactory grains, HttpContext http) =>
        {
            RequestMapping.CheckName("name", name);

            // A switch with registered hosts cannot be deleted, so with wait=applied this answers at once.
            ApplyBarrier.Requested(http);
            await grains.GetGrain<ISwitchGrain>(name).DeleteAsync();
            return Results.NoContent();
        });

        api.MapPut("/switches/{name}/portgroups/{portGroup}", async (string name, string portGroup, PortGroupRequest? body, IGrainFactory grains) =>
        {
            RequestMapping.CheckName("name", name);
            RequestMapping.CheckName("portGroup", portGroup);
            var config = await grains.GetGrain<ISwitchGrain>(name).SetPortGroupAsync(portGroup, RequestMapping.ToSpec(body));
            var group = config.PortGroups.Single(g => g.Name == portGroup);
            return Results.Ok(PortGroupView.From(group));
        }).WithApplyBarrier("name");

        api.MapDelete("/switches/{name}/portgroups/{portGroup}", async (string name, string portGroup, IGrainFactory grains) =>
        {
            RequestMapping.CheckName("name", name);
            RequestMapping.CheckName("portGroup", portGroup);
            await grains.GetGrain<ISwitchGrain>(name).RemovePortGroupAsync(portGroup);
            return Results.NoContent();
        }).WithApplyBarrier("name");

        // IPAM: what the port group's pool has handed out (address order), and freeing a leaked one.
        api.MapGet("/switches/{name}/portgroups/{portGroup}/allocations", async (string name, string portGroup, IGrainFactory grains) =>
        {
            await RequirePortGroupAsync(grains, name, portGroup);
            var allocations = await grains.GetGrain<IIpamGrain>(IIpamGrain.KeyOf(name, portGroup)).ListAsync();
            return Results.Ok(allocations.Select(IpAllocationView.From).ToArray());
        });

        api.MapDelete("/switches/{name}/portgroups/{portGroup}/allocations/{ip}", async (string name, string portGroup, string ip, IGrainFactory grains, HttpContext http) =>
        {
            ApplyBarrier.NotAvailable(http, NothingForHosts);
            await RequirePortGroupAsync(grains, name, portGroup);
            var address = RequestMapping.ParseIpv4("ip", ip);
            bool released = await grains.GetGrain<IIpamGrain>(IIpamGrain.KeyOf(name, portGroup)).ReleaseAddressAsync(address);
            return released ? Results.NoContent() : throw new FabricNotFoundException("allocation", $"{name}/{portGroup}/{ip}");
        });

        api.MapGet("/segments/{vni}", async (string vni, IGrainFactory grains) =>
        {
            var id = RequestMapping.ParseVni(vni);
            var claim = await grains.GetGrain<IFabricDirectoryGrain>(IFabricDirectoryGrain.Key).FindVniAsync(id);
            if (claim is not null)
            {
                // A claim whose port group write failed (storage down mid-call) names a port group the
                // switch does not have: not a segment anyone configured, so not shown as one.
                var owner = await grains.GetGrain<ISwitchGrain>(claim.Switch).GetAsync();
                if (owner?.PortGroups.Any(g => g.Name == claim.PortGroup && g.Vni == id) != true)
                {
                    claim = null;
                }
            }

            var snapshot = await grains.GetGrain<ISegmentGrain>(id.Value).GetAsync();
            if (claim is null && snapshot.FloodList.Count == 0)
            {
                throw new FabricNotFoundException("segment", vni);
            }

            return Results.Ok(new SegmentView(
                id.Value,
                claim?.Switch,
                claim?.PortGroup,
                snapshot.Epoch,
                snapshot.Version,
                snapshot.FloodList.OrderBy(e => e.HostId, StringComparer.Ordinal).Select(e => new FloodListEntryView(e.HostId, e.Vtep.ToString())).ToArray()));
        });

        api.MapGet("/segments/{vni}/macs", async (string vni, IGrainFactory grains) =>
        {
            var id = RequestMapping.ParseVni(vni);
            var snapshot = await grains.GetGrain<IMacTableGrain>(id.Value).GetSnapshotAsync();
            return Results.Ok(MacTableView.From(snapshot));
        });

        api.MapPut("/segments/{vni}/macs/{mac}", async (string vni, string mac, StaticMacRequest? body, IGrainFactory grains, HttpContext http) =>
        {
            ApplyBarrier.NotAvailable(http, SegmentWrites);
            var id = RequestMapping.ParseVni(vni);
            var address = RequestMapping.ParseMac(mac);
            MacEntry entry;
            if (body?.Vtep is { } vtepText)
            {
                // A MAC behind an external VTEP (a kernel VXLAN device, a hardware VTEP).
                var vtep = RequestMapping.ParseVtep(vtepText);
                await EnsureNotAFabricHostAsync(grains, vtep, "vtep");
                entry = await grains.GetGrain<IMacTableGrain>(id.Value).SetStaticAsync(address, ExternalVteps.HostId(vtep), vtep, ExternalVteps.Port);
            }
            else
            {
                string hostId = RequestMapping.CheckName("hostId", body?.HostId ?? string.Empty);
                string port = RequestMapping.CheckName("port", body?.Port ?? string.Empty);
                var host = await grains.GetGrain<IHostGrain>(hostId).GetAsync() ?? throw new FabricNotFoundException("host", hostId);
                entry = await grains.GetGrain<IMacTableGrain>(id.Value).SetStaticAsync(address, hostId, host.Vtep, port);
            }

            return Results.Ok(MacEntryView.From(entry));
        });

        api.MapPut("/segments/{vni}/vteps/{address}", async (string vni, string address, IGrainFactory grains, HttpContext http) =>
        {
            ApplyBarrier.NotAvailable(http, SegmentWrites);
            var id = RequestMapping.ParseVni(vni);
            var vtep = RequestMapping.ParseVtep(address);
            await EnsureNotAFabricHostAsync(grains, vtep, "address");
            var snapshot = await grains.GetGrain<ISegmentGrain>(id.Value).JoinAsync(ExternalVteps.HostId(vtep), vtep);
            return Results.Ok(new { vni = id.Value, snapshot.Version, floodList = snapshot.FloodList.Select(e => new FloodListEntryView(e.HostId, e.Vtep.ToString())) });
        });

        api.MapDelete("/segments/{vni}/vteps/{address}", async (string vni, string address, IGrainFactory grains, HttpContext http) =>
        {
            ApplyBarrier.NotAvailable(http, SegmentWrites);
            var id = RequestMapping.ParseVni(vni);
            var vtep = RequestMapping.ParseVtep(address);
            await grains.GetGrain<ISegmentGrain>(id.Value).LeaveAsync(ExternalVteps.HostId(vtep));
            return Results.NoContent();
        });

        api.MapDelete("/segments/{vni}/macs/{mac}", async (string vni, string mac, IGrainFactory grains, HttpContext http) =>
        {
            ApplyBarrier.NotAvailable(http, SegmentWrites);
            var id = RequestMapping.ParseVni(vni);
            var address = RequestMapping.ParseMac(mac);
            return await grains.GetGrain<IMacTableGrain>(id.Value).RemoveAsync(address)
                ? Results.NoContent()
                : throw new FabricNotFoundException("MAC entry", mac);
        });

        api.MapDelete("/segments/{vni}/ips/{ip}", async (string vni, string ip, IGrainFactory grains, HttpContext http) =>
        {
            ApplyBarrier.NotAvailable(http, SegmentWrites);
            var id = RequestMapping.ParseVni(vni);
            var address = RequestMapping.ParseIpv4("ip", ip);
            return await grains.GetGrain<IMacTableGrain>(id.Value).RemoveIpBindingAsync(address)
                ? Results.NoContent()
                : throw new FabricNotFoundException("IP binding", ip);
        });

        api.MapGet("/hosts", async (IGrainFactory grains) =>
        {
            var ids = await grains.GetGrain<IFabricDirectoryGrain>(IFabricDirectoryGrain.Key).ListHostsAsync();
            var views = new List<HostView>();
            foreach (var id in ids.Order(StringComparer.Ordinal))
            {
                if (await grains.GetGrain<IHostGrain>(id).GetAsync() is { } host)
                {
                    views.Add(HostView.From(host));
                }
            }

            return Results.Ok(views);
        });

        api.MapGet("/hosts/{id}", async (string id, IGrainFactory grains) =>
        {
            RequestMapping.CheckName("id", id);
            var host = await grains.GetGrain<IHostGrain>(id).GetAsync() ?? throw new FabricNotFoundException("host", id);
            return Results.Ok(HostView.From(host));
        });

        // Ports attached at run time by an operator: stored in the host grain, carried out by the
        // host's agent at its next heartbeat, which reports back (status attached / failed / pending).
        api.MapGet("/hosts/{id}/ports", async (string id, IGrainFactory grains) =>
        {
            RequestMapping.CheckName("id", id);
            var host = grains.GetGrain<IHostGrain>(id);
            return Results.Ok(HostPortsView.From(id, await host.GetAsync(), await host.GetPortRequestsAsync()));
        });

        // With ?wait=applied the answer waits for the agent's report: 200 with the request attached or failed.
        api.MapPut("/hosts/{id}/ports/{interfaceName}", async (string id, string interfaceName, PortAttachRequest? body, IGrainFactory grains, HttpContext http) =>
        {
            RequestMapping.CheckName("id", id);
            ApplyBarrier.Requested(http);
            var host = grains.GetGrain<IHostGrain>(id);
            var requests = await host.RequestPortAsync(new RequestedPort(interfaceName, body?.PortGroup ?? string.Empty, body?.Mac, body?.Ipv4));
            if (await ApplyBarrier.PortRequestsReportedAsync(http, grains, id, requests.Version) is { } reported)
            {
                return Results.Ok(HostPortsView.From(id, await host.GetAsync(), reported));
            }

            return Results.Accepted($"/api/hosts/{id}/ports", HostPortsView.From(id, await host.GetAsync(), requests));
        });

        api.MapDelete("/hosts/{id}/ports/{interfaceName}", async (string id, string interfaceName, IGrainFactory grains, HttpContext http) =>
        {
            RequestMapping.CheckName("id", id);
            ApplyBarrier.Requested(http);
            var host = grains.GetGrain<IHostGrain>(id);
            if (!await host.WithdrawPortRequestAsync(interfaceName))
            {
                throw new FabricNotFoundException("port request", $"{id}/{interfaceName}");
            }

            // The version now is the withdrawal's or a later one: a report on it covers the withdrawal.
            await ApplyBarrier.PortRequestsReportedAsync(http, grains, id, (await host.GetPortRequestsAsync()).Version);
            return Results.NoContent();
        });

        return app;
    }

    private const string SegmentWrites = "segment writes reach the agents as pushed deltas, and agents do not report which segment or MAC table version they applied.";

    private const string NothingForHosts = "releasing an address changes only the IPAM grain, which the agents ask per request; no host has anything to apply.";

    /// <summary>
    /// VTEPs without a Fabric agent (a Linux kernel VXLAN device, a hardware VTEP) join a segment's
    /// flood list under a host id of their own (<see cref="ExternalVteps"/>), which no liveness check
    /// withdraws: the operator does. One at the address of a fabric host would make that host's agent
    /// flood to itself: refused, naming the host (field <c>address</c>).
    /// </summary>
    private static async Task EnsureNotAFabricHostAsync(IGrainFactory grains, System.Net.IPAddress vtep, string field)
    {
        foreach (string hostId in await grains.GetGrain<IFabricDirectoryGrain>(IFabricDirectoryGrain.Key).ListHostsAsync())
        {
            if (await grains.GetGrain<IHostGrain>(hostId).GetAsync() is { } host && host.Vtep.Equals(vtep))
            {
                throw new FabricValidationException(field, $"{field} {vtep} is the VTEP of fabric host '{hostId}'; an external VTEP cannot share a fabric host's address.");
            }
        }
    }

    /// <summary>404 unless switch <paramref name="name"/> has port group <paramref name="portGroup"/>: IPAM is never asked about a port group that does not exist.</summary>
    private static async Task RequirePortGroupAsync(IGrainFactory grains, string name, string portGroup)
    {
        RequestMapping.CheckName("name", name);
        RequestMapping.CheckName("portGroup", portGroup);
        var config = await grains.GetGrain<ISwitchGrain>(name).GetAsync() ?? throw new FabricNotFoundException("switch", name);
        if (!config.PortGroups.Any(g => g.Name == portGroup))
        {
            throw new FabricNotFoundException("port group", $"{name}/{portGroup}");
        }
    }

    private static async Task<IReadOnlyList<HostGenerationView>> HostGenerationsAsync(IGrainFactory grains, string switchName)
    {
        var ids = await grains.GetGrain<IFabricDirectoryGrain>(IFabricDirectoryGrain.Key).ListHostsAsync();
        var hosts = await Task.WhenAll(ids.Select(id => grains.GetGrain<IHostGrain>(id).GetAsync()));
        return hosts
            .Where(h => h is not null && h.Switch == switchName)
            .Select(h => new HostGenerationView(h!.Id, h.AppliedGeneration, h.Alive))
            .OrderBy(h => h.HostId, StringComparer.Ordinal)
            .ToArray();
    }
}
