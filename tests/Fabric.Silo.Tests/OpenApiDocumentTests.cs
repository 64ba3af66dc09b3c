using System.Net;
using System.Text.Json;

namespace Fabric.Silo.Tests;

/// <summary>The OpenAPI document a real silo serves at <c>/openapi/v1.json</c>, as a client generator reads it.</summary>
[Collection(SiloCollection.Name)]
[Trait("Category", "Ops")]
public sealed class OpenApiDocumentTests(SiloProcessFixture silo)
{
    [Fact]
    public async Task The_document_is_valid_json_and_lists_the_main_routes_with_their_methods()
    {
        using var response = await silo.Http.GetAsync("openapi/v1.json");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var root = document.RootElement;

        Assert.StartsWith("3.", root.GetProperty("openapi").GetString(), StringComparison.Ordinal);
        Assert.Equal("Fabric management API", root.GetProperty("info").GetProperty("title").GetString());
        var paths = root.GetProperty("paths");
        var expected = new Dictionary<string, string[]>
        {
            ["/api/switches"] = ["get"],
            ["/api/switches/{name}"] = ["get", "put", "delete"],
            ["/api/switches/{name}/portgroups/{portGroup}"] = ["put", "delete"],
            ["/api/switches/{name}/portgroups/{portGroup}/allocations"] = ["get"],
            ["/api/segments/{vni}"] = ["get"],
            ["/api/segments/{vni}/macs"] = ["get"],
            ["/api/segments/{vni}/macs/{mac}"] = ["put", "delete"],
            ["/api/segments/{vni}/vteps/{address}"] = ["put", "delete"],
            ["/api/segments/{vni}/ips/{ip}"] = ["delete"],
            ["/api/hosts"] = ["get"],
            ["/api/hosts/{id}"] = ["get"],
            ["/api/hosts/{id}/ports"] = ["get"],
            ["/api/hosts/{id}/ports/{interfaceName}"] = ["put", "delete"],
            ["/api/hosts/{id}/status"] = ["get"],
            ["/api/fabric"] = ["get"],
        };
        foreach (var (path, methods) in expected)
        {
            Assert.True(paths.TryGetProperty(path, out var item), $"{path} is not in the document");
            foreach (string method in methods)
            {
                Assert.True(item.TryGetProperty(method, out var operation), $"{method.ToUpperInvariant()} {path} is not in the document");
                Assert.True(operation.GetProperty("tags").GetArrayLength() > 0, $"{method.ToUpperInvariant()} {path} has no tag");
            }
        }

        // Only the API: not the dashboard's routes, the fabric page's files or the reference page.
        Assert.All(paths.EnumerateObject(), p => Assert.StartsWith("/api/", p.Name, StringComparison.Ordinal));

        // A write's body is described: the port group's VNI is in its request schema.
        string portGroupBody = paths.GetProperty("/api/switches/{name}/portgroups/{portGroup}").GetProperty("put").GetProperty("requestBody").GetRawText();
        Assert.Contains("PortGroupRequest", portGroupBody, StringComparison.Ordinal);
        Assert.True(root.GetProperty("components").GetProperty("schemas").GetProperty("PortGroupRequest").GetProperty("properties").TryGetProperty("vni", out _));

        // Every reference resolves to a schema the document has.
        var schemas = root.GetProperty("components").GetProperty("schemas");
        foreach (string reference in References(root))
        {
            const string prefix = "#/components/schemas/";
            Assert.StartsWith(prefix, reference, StringComparison.Ordinal);
            Assert.True(schemas.TryGetProperty(reference[prefix.Length..], out _), $"{reference} does not resolve");
        }
    }

    [Fact]
    public async Task The_reference_page_is_served_with_its_script_from_the_silo()
    {
        string html = await silo.Http.GetStringAsync("scalar/");
        Assert.Contains("Fabric management API", html, StringComparison.Ordinal);
        Assert.Contains("openapi/v1.json", html, StringComparison.Ordinal);
        Assert.DoesNotContain("cdn.jsdelivr.net", html, StringComparison.Ordinal);
        using var script = await silo.Http.GetAsync("scalar/scalar.js");
        Assert.Equal(HttpStatusCode.OK, script.StatusCode);
    }

    private static IEnumerable<string> References(JsonElement element)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                foreach (var property in element.EnumerateObject())
                {
                    if (property.Name == "$ref" && property.Value.ValueKind == JsonValueKind.String)
                    {
                        yield return property.Value.GetString()!;
                    }
                    else
                    {
                        foreach (string reference in References(property.Value))
                        {
                            yield return reference;
                        }
                    }
                }

                break;
            case JsonValueKind.Array:
                foreach (var item in element.EnumerateArray())
                {
                    foreach (string reference in References(item))
                    {
                        yield return reference;
                    }
                }

                break;
        }
    }
}
