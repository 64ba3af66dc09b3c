using System.Net;
using Fabric.Grains;

namespace Fabric.Silo.Api;

/// <summary>
/// A remote port mirroring session as the API takes it (<c>PUT /api/switches/{switch}/mirrors/{name}</c>):
/// <c>host</c>, <c>port</c>, <c>direction</c> (<c>in</c> | <c>out</c> | <c>both</c>, default both),
/// <c>destination</c> (the collector's IPv4 address), <c>encapsulation</c> (<c>vxlan</c> | <c>erspan</c>),
/// <c>vni</c> (VXLAN) or <c>sessionId</c> (ERSPAN), <c>snapLength</c> (optional).
/// </summary>
public sealed record MirrorSessionRequest(string? Host, string? Port, string? Direction, string? Destination, string? Encapsulation, uint? Vni, int? SessionId, int? SnapLength);

/// <summary>A remote port mirroring session as the API shows it.</summary>
public sealed record MirrorSessionView(string Name, string Host, string Port, string Direction, string Destination, string Encapsulation, uint? Vni, int? SessionId, int? SnapLength)
{
    internal static MirrorSessionView From(MirrorSession m) => new(m.Name, m.Host, m.Port, m.Direction.ToString().ToLowerInvariant(), m.Destination.ToString(), m.Encapsulation.ToString().ToLowerInvariant(), m.Vni, m.SessionId, m.SnapLength);
}

/// <summary>
/// The switch's remote port mirroring sessions under <c>/api/switches/{switch}/mirrors</c> (README,
/// "Operating the fabric"): the host's agent copies what the port sends and receives to the collector,
/// encapsulated in VXLAN or ERSPAN, as a vSphere Distributed Switch's encapsulated remote mirroring does.
/// </summary>
public static class MirrorApi
{
    /// <summary>Maps <c>GET /api/switches/{switch}/mirrors</c>, <c>PUT</c> and <c>DELETE .../mirrors/{name}</c> (the writes take <c>?wait=applied</c>, <see cref="ApplyBarrier"/>).</summary>
    /// <param name="app">The endpoint route builder.</param>
    /// <returns><paramref name="app"/>, for chaining.</returns>
    public static IEndpointRouteBuilder MapFabricMirrors(this IEndpointRouteBuilder app)
    {
        var mirrors = app.MapGroup("/api/switches/{name}/mirrors");
        mirrors.MapGet("", async (string name, IGrainFactory grains) =>
        {
            RequestMapping.CheckName("name", name);
            var config = await grains.GetGrain<ISwitchGrain>(name).GetAsync() ?? throw new FabricNotFoundException("switch", name);
            return Results.Ok((config.Mirrors ?? []).Select(MirrorSessionView.From));
        });
        mirrors.MapPut("/{mirror}", async (string name, string mirror, MirrorSessionRequest? body, IGrainFactory grains) =>
        {
            RequestMapping.CheckName("name", name);
            var config = await grains.GetGrain<ISwitchGrain>(name).SetMirrorAsync(ToSession(mirror, body));
            return Results.Ok(MirrorSessionView.From(config.Mirrors!.First(m => m.Name == mirror)));
        }).WithApplyBarrier("name");
        mirrors.MapDelete("/{mirror}", async (string name, string mirror, IGrainFactory grains) =>
        {
            RequestMapping.CheckName("name", name);
            await grains.GetGrain<ISwitchGrain>(name).RemoveMirrorAsync(mirror);
            return Results.NoContent();
        }).WithApplyBarrier("name");
        return app;
    }

    private static MirrorSession ToSession(string name, MirrorSessionRequest? body)
    {
        if (body is null)
        {
            throw new FabricValidationException("body", "the body must be a mirror session: {\"host\", \"port\", \"direction\", \"destination\", \"encapsulation\", \"vni\" | \"sessionId\"}.");
        }

        var direction = body.Direction?.ToLowerInvariant() switch
        {
            null or "both" => MirrorDirection.Both,
            "in" => MirrorDirection.In,
            "out" => MirrorDirection.Out,
            _ => throw new FabricValidationException("direction", "direction is in (what the port sends), out (what it receives) or both."),
        };
        var encapsulation = body.Encapsulation?.ToLowerInvariant() switch
        {
            "vxlan" => MirrorEncapsulation.Vxlan,
            "erspan" => MirrorEncapsulation.Erspan,
            _ => throw new FabricValidationException("encapsulation", "encapsulation is vxlan or erspan."),
        };
        if (!IPAddress.TryParse(body.Destination, out var destination))
        {
            throw new FabricValidationException("destination", "destination is the collector's IPv4 address.");
        }

        // The switch grain validates the rest (MirrorSession.Validate), naming the field.
        return new MirrorSession(name, body.Host ?? "", body.Port ?? "", direction, destination, encapsulation, body.Vni, body.SessionId, body.SnapLength);
    }
}
