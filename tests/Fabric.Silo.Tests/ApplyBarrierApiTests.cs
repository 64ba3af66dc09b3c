using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace Fabric.Silo.Tests;

/// <summary>
/// Issue 13, item 5: the API side of <c>?wait=applied&amp;timeout=...</c> on a real silo process
/// without agents: bad parameters are refused naming them before anything changes, writes hosts
/// do not report refuse it naming <c>wait</c>, a switch no host is on answers at once, and a port
/// request no agent reports on answers 504 naming the host. The lab test has agents.
/// </summary>
[Collection(SiloCollection.Name)]
[Trait("Category", "Ops")]
public sealed class ApplyBarrierApiTests(SiloProcessFixture silo)
{
    private HttpClient Http => silo.Http;

    private static string UniqueName(string stem) => $"{stem}-{Guid.NewGuid():N}"[..24];

    [Theory]
    [InlineData("wait=hv", "wait")]
    [InlineData("wait=", "wait")]
    [InlineData("wait=applied&wait=applied", "wait")]
    [InlineData("timeout=10s", "timeout")]
    [InlineData("wait=applied&timeout=0s", "timeout")]
    [InlineData("wait=applied&timeout=61s", "timeout")]
    [InlineData("wait=applied&timeout=2h", "timeout")]
    [InlineData("wait=applied&timeout=-1", "timeout")]
    [InlineData("wait=applied&timeout=ten", "timeout")]
    public async Task A_bad_wait_or_timeout_is_refused_naming_it_and_the_write_is_not_made(string query, string field)
    {
        string name = UniqueName("sw");
        using var response = await SendAsync(HttpMethod.Put, $"api/switches/{name}?{query}", """{"mtu":1450}""");
        var problem = await ProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.Equal(field, problem.GetProperty("field").GetString());

        using var read = await Http.GetAsync($"api/switches/{name}");
        Assert.Equal(HttpStatusCode.NotFound, read.StatusCode);
    }

    [Theory]
    [InlineData("PUT", "api/segments/{vni}/vteps/10.98.0.7")]
    [InlineData("DELETE", "api/segments/{vni}/vteps/10.98.0.7")]
    [InlineData("PUT", "api/segments/{vni}/macs/02:00:00:00:77:01")]
    [InlineData("DELETE", "api/segments/{vni}/macs/02:00:00:00:77:01")]
    [InlineData("DELETE", "api/segments/{vni}/ips/10.0.0.9")]
    [InlineData("DELETE", "api/switches/sw/portgroups/pg/allocations/10.0.0.9")]
    public async Task Writes_that_hosts_do_not_report_applying_refuse_wait_applied_naming_wait(string method, string path)
    {
        long vni = Random.Shared.Next(100_000, 10_000_000);
        using var response = await SendAsync(new HttpMethod(method), $"{path.Replace("{vni}", $"{vni}", StringComparison.Ordinal)}?wait=applied", """{"vtep":"10.98.0.7"}""");
        var problem = await ProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.Equal("wait", problem.GetProperty("field").GetString());
        Assert.Contains("not available", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_switch_write_with_wait_applied_and_no_host_on_the_switch_answers_at_once_applied()
    {
        string name = UniqueName("sw");
        var clock = Stopwatch.StartNew();
        using (var created = await SendAsync(HttpMethod.Put, $"api/switches/{name}?wait=applied&timeout=5s", """{"mtu":1450}"""))
        {
            Assert.Equal(HttpStatusCode.OK, created.StatusCode);
            Assert.True((await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("appliedOnEveryHost").GetBoolean());
        }

        using (var group = await SendAsync(HttpMethod.Put, $"api/switches/{name}/portgroups/web?wait=applied", $$"""{"vni":{{Random.Shared.Next(100_000, 10_000_000)}}}"""))
        {
            Assert.Equal(HttpStatusCode.OK, group.StatusCode);
        }

        using (var removed = await SendAsync(HttpMethod.Delete, $"api/switches/{name}/portgroups/web?wait=applied&timeout=500ms", null))
        {
            Assert.Equal(HttpStatusCode.NoContent, removed.StatusCode);
        }

        using (var deleted = await SendAsync(HttpMethod.Delete, $"api/switches/{name}?wait=applied", null))
        {
            Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        }

        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(4), $"four writes on a switch no host is on took {clock.Elapsed.TotalMilliseconds:0} ms with wait=applied");
    }

    [Fact]
    public async Task A_port_request_no_agent_reports_on_answers_504_naming_the_host_after_the_timeout_and_stays_stored()
    {
        string host = UniqueName("host");
        var clock = Stopwatch.StartNew();
        using var response = await SendAsync(HttpMethod.Put, $"api/hosts/{host}/ports/ctr1?wait=applied&timeout=700ms", """{"portGroup":"web"}""");
        var problem = await ProblemAsync(response, HttpStatusCode.GatewayTimeout);
        Assert.True(clock.Elapsed >= TimeSpan.FromMilliseconds(650), $"504 after {clock.Elapsed.TotalMilliseconds:0} ms, before the 700 ms timeout");
        Assert.Equal([host], problem.GetProperty("hosts").EnumerateArray().Select(h => h.GetString()));
        Assert.Contains(host, problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Contains("not registered", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);

        var ports = await Http.GetFromJsonAsync<JsonElement>($"api/hosts/{host}/ports");
        Assert.Equal("pending", ports.GetProperty("requested")[0].GetProperty("status").GetString());
    }

    private async Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, string? json)
    {
        using var request = new HttpRequestMessage(method, path);
        if (json is not null)
        {
            request.Content = new StringContent(json, Encoding.UTF8, "application/json");
        }

        return await Http.SendAsync(request);
    }

    private static async Task<JsonElement> ProblemAsync(HttpResponseMessage response, HttpStatusCode expected)
    {
        string text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == expected, $"{response.RequestMessage?.Method} {response.RequestMessage?.RequestUri} → {(int)response.StatusCode}: {text}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        return JsonDocument.Parse(text).RootElement.Clone();
    }
}
