using System.Collections.Frozen;

namespace Fabric.Silo.Api;

/// <summary>
/// The fabric page at <c>/fabric</c> (the Orleans Dashboard stays at <c>/</c>): hosts, switches and
/// port groups, segments with their flood lists, the FDB and IP bindings, per-port counters and
/// alarms, refreshed every 2 s from <c>GET /api/fabric</c> and each live host's
/// <c>GET /api/hosts/{id}/status</c>. Plain HTML, CSS and JavaScript embedded in this assembly
/// (<c>Silo/Page/</c>): nothing is loaded from anywhere but the silo, so it works offline.
/// </summary>
public static class FabricPage
{
    /// <summary>Where the page is.</summary>
    public const string Path = "/fabric";

    private const string ResourcePrefix = "FabricPage/";

    private static readonly FrozenDictionary<string, string> ContentTypes = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        [".html"] = "text/html; charset=utf-8",
        [".css"] = "text/css; charset=utf-8",
        [".js"] = "text/javascript; charset=utf-8",
        [".svg"] = "image/svg+xml",
    }.ToFrozenDictionary(StringComparer.Ordinal);

    // Read once: the page's files are a few kilobytes and never change while the silo runs.
    private static readonly Lazy<FrozenDictionary<string, byte[]>> Files = new(LoadFiles);

    /// <summary>
    /// Maps the page (<c>/fabric</c>), its files (<c>/fabric/{file}</c>: <c>fabric.css</c>,
    /// <c>fabric.js</c>; 404 for any other name) and the overview it reads (<c>GET /api/fabric</c>,
    /// <see cref="FabricOverview"/>).
    /// </summary>
    /// <param name="app">The endpoint route builder.</param>
    /// <returns><paramref name="app"/>, for chaining.</returns>
    public static IEndpointRouteBuilder MapFabricPage(this IEndpointRouteBuilder app)
    {
        app.MapGet("/api/fabric", async (IGrainFactory grains, HttpContext context) =>
            Results.Ok(await FabricOverviewReader.ReadAsync(grains, context.RequestServices.GetService<TimeProvider>() ?? TimeProvider.System)))
            .WithName("GetFabricOverview")
            .WithSummary("The whole fabric in one answer: hosts, switches, segments with flood lists and FDBs, alarms.")
            .Produces<FabricOverview>();

        app.MapGet(Path, () => File("index.html")).ExcludeFromDescription();
        app.MapGet(Path + "/{file}", (string file) => File(file)).ExcludeFromDescription();
        return app;
    }

    private static IResult File(string name)
    {
        if (!Files.Value.TryGetValue(name, out byte[]? content)
            || !ContentTypes.TryGetValue(System.IO.Path.GetExtension(name), out string? type))
        {
            return Results.NotFound();
        }

        // The page polls the API for data; its own files are small, so a browser simply asks again.
        return new NoCache(Results.Bytes(content, type));
    }

    private static FrozenDictionary<string, byte[]> LoadFiles()
    {
        var assembly = typeof(FabricPage).Assembly;
        var files = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        foreach (string resource in assembly.GetManifestResourceNames().Where(r => r.StartsWith(ResourcePrefix, StringComparison.Ordinal)))
        {
            using var stream = assembly.GetManifestResourceStream(resource)!;
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            files[resource[ResourcePrefix.Length..]] = copy.ToArray();
        }

        return files.ToFrozenDictionary(StringComparer.Ordinal);
    }

    /// <summary>Answers with <c>Cache-Control: no-cache</c>, so a silo upgraded in place serves its new page at once.</summary>
    private sealed class NoCache(IResult inner) : IResult
    {
        public Task ExecuteAsync(HttpContext httpContext)
        {
            httpContext.Response.Headers.CacheControl = "no-cache";
            return inner.ExecuteAsync(httpContext);
        }
    }
}
