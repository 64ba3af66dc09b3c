using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;
using Scalar.AspNetCore;

namespace Fabric.Silo.Api;

/// <summary>
/// The management API described as an OpenAPI 3.1 document at <c>/openapi/v1.json</c>
/// (Microsoft.AspNetCore.OpenApi), and a reference page that reads it at <c>/scalar</c>
/// (Scalar.AspNetCore). The page's script is served from Scalar's assembly and its default web
/// fonts, telemetry and AI agent are off, so it works on a machine with no route to the internet.
/// </summary>
public static class OpenApiDocs
{
    /// <summary>The document's name: it is served at <c>/openapi/{DocumentName}.json</c>.</summary>
    public const string DocumentName = "v1";

    /// <summary>Where the reference page is: <c>/scalar</c> (also <c>/scalar/v1</c>).</summary>
    public const string ReferencePath = "/scalar";

    // One line per operation, from README "Management API", for the routes that carry no summary of their own.
    private static readonly Dictionary<string, string> Summaries = new(StringComparer.Ordinal)
    {
        ["GET api/switches"] = "All switches with their port groups, members and the generation each host applied.",
        ["GET api/switches/{name}"] = "One switch (404 if unknown).",
        ["PUT api/switches/{name}"] = "Creates or updates a switch: {\"mtu\":1450} (576..9216).",
        ["DELETE api/switches/{name}"] = "Deletes a switch; refused while port groups remain.",
        ["PUT api/switches/{name}/portgroups/{portGroup}"] = "Creates or updates a port group: VNI, VLAN and security policy, IPv4 pool, routing, network mode.",
        ["DELETE api/switches/{name}/portgroups/{portGroup}"] = "Deletes a port group (400 while a host port uses it); its segment ends.",
        ["GET api/switches/{name}/portgroups/{portGroup}/allocations"] = "What the port group's IPv4 pool handed out, in address order.",
        ["DELETE api/switches/{name}/portgroups/{portGroup}/allocations/{ip}"] = "Frees an allocated address (a leaked one).",
        ["GET api/switches/{name}/mirrors"] = "A switch's remote mirror sessions.",
        ["PUT api/switches/{name}/mirrors/{mirror}"] = "Creates or updates a remote mirror session: a host's port copied to a collector in VXLAN or ERSPAN.",
        ["DELETE api/switches/{name}/mirrors/{mirror}"] = "Ends a remote mirror session.",
        ["GET api/segments/{vni}"] = "A segment: its port group and flood list.",
        ["GET api/segments/{vni}/macs"] = "A segment's FDB (MAC entries) and IP bindings.",
        ["PUT api/segments/{vni}/macs/{mac}"] = "A static MAC entry, at a host's port or behind an external VTEP.",
        ["DELETE api/segments/{vni}/macs/{mac}"] = "Removes a MAC entry.",
        ["PUT api/segments/{vni}/vteps/{address}"] = "An external VTEP (kernel or hardware) joins the segment's flood list.",
        ["DELETE api/segments/{vni}/vteps/{address}"] = "An external VTEP leaves the segment's flood list.",
        ["DELETE api/segments/{vni}/ips/{ip}"] = "Removes an IP binding (clears a duplicate flag).",
        ["GET api/hosts"] = "All hosts: VTEP, agent version, ports, liveness, applied generation.",
        ["GET api/hosts/{id}"] = "One host (404 if unknown).",
        ["GET api/hosts/{id}/ports"] = "A host's registered ports and the operator's attach requests with their status.",
        ["PUT api/hosts/{id}/ports/{interfaceName}"] = "Asks the host's agent to attach an interface to a port group (202).",
        ["DELETE api/hosts/{id}/ports/{interfaceName}"] = "Withdraws an attach request; the agent detaches the port.",
        ["POST api/hosts/{id}/trace"] = "Where a frame arriving on a host's port would go: each pipeline stage's decision and the outputs, nothing sent or learned.",
        ["GET api/hosts/{id}/ports/{port}/mirror"] = "A pcap stream of what a port sends and receives, until the client closes.",
        ["GET api/hosts/{id}/status"] = "The host agent's status: counters per port, VNI and VTEP, flood lists, remote MACs, bindings (503 if the agent does not answer).",
    };

    /// <summary>
    /// Describes the routes under <c>/api</c> (not the dashboard's, the fabric page's or the
    /// reference page's own), each operation tagged by its resource (<c>switches</c>,
    /// <c>segments</c>, <c>hosts</c>, <c>fabric</c>, ...), with the problem+json answer every call
    /// may give (README "Management API").
    /// </summary>
    /// <param name="services">The web host's services.</param>
    /// <returns><paramref name="services"/>, for chaining.</returns>
    public static IServiceCollection AddFabricOpenApi(this IServiceCollection services) => services.AddOpenApi(DocumentName, options =>
    {
        options.ShouldInclude = description => description.RelativePath?.StartsWith("api/", StringComparison.Ordinal) == true;
        options.AddDocumentTransformer((document, _, _) =>
        {
            document.Info = new OpenApiInfo
            {
                Title = "Fabric management API",
                Version = DocumentName,
                Description = "Switches, port groups, segments, MAC tables and hosts of a Fabric distributed virtual switch. "
                    + "JSON (camelCase); errors are RFC 7807 problem details (application/problem+json) whose `field` names a bad value.",
            };

            // One tag per resource, as the operations name them (instead of the assembly's name).
            var tags = new SortedSet<string>(StringComparer.Ordinal);
            foreach (var operation in document.Paths.Values.SelectMany(p => p.Operations?.Values.AsEnumerable() ?? []))
            {
                tags.UnionWith(operation.Tags?.Select(t => t.Name).OfType<string>() ?? []);
            }

            document.Tags = new HashSet<OpenApiTag>(tags.Select(t => new OpenApiTag { Name = t }));
            return Task.CompletedTask;
        });
        options.AddOperationTransformer((operation, context, _) =>
        {
            string resource = context.Description.RelativePath?.Split('/') is ["api", var first, ..] ? first : "api";
            operation.Tags = new HashSet<OpenApiTagReference> { new(resource, context.Document) };
            if (operation.Summary is null && Summaries.TryGetValue($"{context.Description.HttpMethod} {context.Description.RelativePath?.TrimEnd('/')}", out string? summary))
            {
                operation.Summary = summary;
            }

            operation.Responses ??= new OpenApiResponses();
            operation.Responses.TryAdd("default", new OpenApiResponse
            {
                Description = "An error as an RFC 7807 problem: 400 names the bad `field`, 404 an unknown name, 503 an unreachable cluster or storage.",
                Content = new Dictionary<string, OpenApiMediaType> { ["application/problem+json"] = new() },
            });
            return Task.CompletedTask;
        });
    });

    /// <summary>Maps the OpenAPI document (<c>/openapi/v1.json</c>) and the reference page (<c>/scalar</c>).</summary>
    /// <param name="app">The endpoint route builder.</param>
    /// <returns><paramref name="app"/>, for chaining.</returns>
    public static IEndpointRouteBuilder MapFabricOpenApi(this IEndpointRouteBuilder app)
    {
        app.MapOpenApi();
        app.MapScalarApiReference(ReferencePath, options => options
            .WithTitle("Fabric management API")
            .AddDocument(DocumentName)
            .ExpandAllTags()
            .HideDeveloperTools()
            .DisableDefaultFonts()
            .DisableTelemetry()
            .DisableAgent()
            .DisableMcp());
        return app;
    }
}
