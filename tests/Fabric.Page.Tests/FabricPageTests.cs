using System.Diagnostics;

namespace Fabric.Page.Tests;

/// <summary>The fabric page and the API reference page of a real silo, in a real browser, as a person sees them.</summary>
[Collection(SiloPageCollection.Name)]
[Trait("Category", "Ops")]
public sealed class FabricPageTests(SiloPageFixture fixture, ITestOutputHelper output)
{
    /// <summary>Two polls of the page (2 s each) and a margin for a loaded machine.</summary>
    private static readonly TimeSpan PageRefreshBound = TimeSpan.FromSeconds(10);

    private static long s_vni = Random.Shared.Next(100_000, 10_000_000);

    private static string Unique(string stem) => $"{stem}-{Guid.NewGuid():N}"[..16];

    [Fact]
    public async Task A_port_group_created_through_the_api_appears_on_the_open_page_without_a_reload()
    {
        string name = Unique("sw");
        long vni = Interlocked.Increment(ref s_vni);
        await fixture.Api.PutAsync($"api/switches/{name}", """{"mtu":1450}""");
        await using var tab = await fixture.Browser.NewTabAsync();
        await tab.GoToAsync(new Uri(fixture.Silo.BaseAddress, "fabric"));
        await tab.WaitUntilAsync($"document.querySelector('[data-switch=\"{name}\"]').innerText.includes('MTU 1450')", PageRefreshBound, $"switch {name}");
        Assert.Contains("No port group", await tab.TextAsync($"document.querySelector('[data-switch=\"{name}\"]')"), StringComparison.Ordinal);
        await tab.Page.EvaluateExpressionAsync("window.notReloaded = true");

        await fixture.Api.PutAsync($"api/switches/{name}/portgroups/payments",
            $$$"""{"vni":{{{vni}}},"vlan":{"mode":"access","accessVlan":300},"ipv4":{"subnet":"10.77.0.0/24","gateway":"10.77.0.1"}}""");
        var shown = Stopwatch.StartNew();
        string row = $"document.querySelector('[data-switch=\"{name}\"] tr[data-portgroup=\"payments\"]')";
        await tab.WaitUntilAsync($"{row}.innerText.includes('{vni}')", PageRefreshBound, $"port group payments (VNI {vni}) of switch {name}");
        output.WriteLine($"the port group appeared {shown.ElapsedMilliseconds} ms after the API answered");

        string text = await tab.TextAsync(row);
        Assert.Contains("access 300", text, StringComparison.Ordinal);
        Assert.Contains("10.77.0.0/24", text, StringComparison.Ordinal);
        Assert.Contains("10.77.0.1", text, StringComparison.Ordinal);
        Assert.Contains("overlay", text, StringComparison.Ordinal);
        Assert.True(await tab.Page.EvaluateExpressionAsync<bool>("window.notReloaded === true"), "the page was reloaded");

        // Its segment is listed too, with an empty flood list (no host has a port in it).
        string segment = await tab.TextAsync($"document.querySelector('#segments tr[data-vni=\"{vni}\"]')");
        Assert.Contains($"{name}/payments", segment, StringComparison.Ordinal);
        Assert.Contains("empty", segment, StringComparison.Ordinal);
        Assert.Equal("live", await tab.Page.EvaluateExpressionAsync<string>("document.getElementById('state').dataset.state"));

        string shot = Screenshots.Path(nameof(A_port_group_created_through_the_api_appears_on_the_open_page_without_a_reload));
        await tab.ScreenshotAsync(shot);
        output.WriteLine($"screenshot: {shot}");
        Assert.Empty(tab.RequestsOffLoopback);
    }

    [Fact]
    public async Task A_deleted_port_group_leaves_the_open_page()
    {
        string name = Unique("sw");
        long vni = Interlocked.Increment(ref s_vni);
        await fixture.Api.PutAsync($"api/switches/{name}", """{"mtu":1450}""");
        await fixture.Api.PutAsync($"api/switches/{name}/portgroups/old", $$"""{"vni":{{vni}}}""");
        await using var tab = await fixture.Browser.NewTabAsync();
        await tab.GoToAsync(new Uri(fixture.Silo.BaseAddress, "fabric"));
        string row = $"document.querySelector('[data-switch=\"{name}\"] tr[data-portgroup=\"old\"]')";
        await tab.WaitUntilAsync(row, PageRefreshBound, $"port group old of switch {name}");

        await fixture.Api.CheckedAsync(HttpMethod.Delete, $"api/switches/{name}/portgroups/old");
        await tab.WaitUntilAsync($"!{row} && !document.querySelector('#segments tr[data-vni=\"{vni}\"]')", PageRefreshBound, $"port group old and VNI {vni} gone");
    }

    [Fact]
    public async Task The_fabric_page_and_the_api_reference_load_nothing_from_outside_loopback()
    {
        await using (var page = await fixture.Browser.NewTabAsync())
        {
            await page.GoToAsync(new Uri(fixture.Silo.BaseAddress, "fabric"));
            await page.WaitUntilAsync("document.getElementById('state').dataset.state === 'live'", PageRefreshBound, "the live state");
            Assert.Empty(page.RequestsOffLoopback);
            Assert.Empty(page.Failed);
        }

        await using var tab = await fixture.Browser.NewTabAsync();
        await tab.GoToAsync(new Uri(fixture.Silo.BaseAddress, "scalar"));

        // The reference renders the document's operations: their groups, summaries and paths.
        await tab.WaitUntilAsync("document.body.innerText.includes('Fabric management API') && document.body.innerText.includes('Creates or updates a port group')",
            TimeSpan.FromSeconds(30), "the API reference with its operations");
        string text = await tab.TextAsync("document.body");
        foreach (string path in new[] { "/api/switches", "/api/segments/{vni}/macs", "/api/hosts/{id}/status", "/api/fabric" })
        {
            Assert.Contains(path, text, StringComparison.Ordinal);
        }

        string shot = Screenshots.Path("scalar-reference");
        await tab.ScreenshotAsync(shot, fullPage: false);
        output.WriteLine($"screenshot: {shot}; requests:\n{string.Join('\n', tab.Requests)}");
        Assert.Empty(tab.RequestsOffLoopback);
        Assert.Empty(tab.Failed);
    }

    [Fact]
    public async Task The_page_files_are_served_and_an_unknown_one_is_a_404()
    {
        using var html = await fixture.Silo.Http.GetAsync("fabric");
        Assert.Equal(System.Net.HttpStatusCode.OK, html.StatusCode);
        Assert.Equal("text/html", html.Content.Headers.ContentType?.MediaType);
        Assert.Contains("fabric.js", await html.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        using var script = await fixture.Silo.Http.GetAsync("fabric/fabric.js");
        Assert.Equal("text/javascript", script.Content.Headers.ContentType?.MediaType);

        using var missing = await fixture.Silo.Http.GetAsync("fabric/nothing.js");
        Assert.Equal(System.Net.HttpStatusCode.NotFound, missing.StatusCode);

        // The Orleans Dashboard stays where it was.
        Assert.Contains("Orleans Dashboard", await fixture.Silo.Http.GetStringAsync("/"), StringComparison.Ordinal);
    }
}
