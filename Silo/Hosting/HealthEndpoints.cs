namespace Fabric.Silo.Hosting;

public static class HealthEndpoints
{
    /// <summary><c>GET /healthz</c>: 200 once this silo is an active member of its cluster, 503 before and after.</summary>
    public static IEndpointRouteBuilder MapFabricHealth(this IEndpointRouteBuilder app)
    {
        app.MapGet("/healthz", (ISiloStatusOracle oracle) =>
        {
            var status = oracle.CurrentStatus;
            return status == SiloStatus.Active
                ? Results.Ok(new { status = "active", silo = oracle.SiloAddress.ToString() })
                : Results.Json(new { status = status.ToString().ToLowerInvariant() }, statusCode: StatusCodes.Status503ServiceUnavailable);
        }).ExcludeFromDescription();
        return app;
    }
}
