using System.Net;
using System.Text.Json;

namespace Fabric.Chaos.Tests;

public sealed partial class ChaosTests
{
    /// <summary>Case 8: bad input on the running cluster is refused with a clear 4xx problem, and changes nothing.</summary>
    [Fact]
    [Order(10)]
    public async Task Bad_api_input_is_refused_with_a_clear_4xx_and_changes_nothing()
    {
        const string Case = "8 bad API input";
        string[] views = ["api/switches", "api/switches/dvs", $"api/segments/{ChaosFabric.WebVni}", $"api/segments/{ChaosFabric.DbVni}"];
        var before = await SnapshotAsync(views);

        var cases = new (HttpMethod Method, string Path, string? Body, string Why)[]
        {
            (HttpMethod.Put, "api/switches/dvs/portgroups/bad", """{"vni":0}""", "VNI 0"),
            (HttpMethod.Put, "api/switches/dvs/portgroups/bad", """{"vni":16777216}""", "VNI 2^24"),
            (HttpMethod.Put, "api/switches/dvs/portgroups/bad", """{"vni":-5}""", "negative VNI"),
            (HttpMethod.Put, "api/switches/dvs/portgroups/bad", """{"vni":99999999999}""", "VNI beyond int"),
            (HttpMethod.Put, "api/switches/dvs/portgroups/bad", """{"vni":"five"}""", "VNI as a word"),
            (HttpMethod.Put, "api/switches/dvs/portgroups/bad", """{"vni":"5003"}""", "VNI as a string of digits"),
            (HttpMethod.Put, "api/switches/dvs/portgroups/bad", $$"""{"vni":{{ChaosFabric.WebVni}}}""", "VNI already used by web"),
            (HttpMethod.Put, "api/switches/dvs/portgroups/bad", """{"vni":5003,"vlan":{"mode":"access","accessVlan":4095}}""", "VLAN 4095"),
            (HttpMethod.Put, "api/switches/dvs/portgroups/bad", """{"vni":5003,"vlan":{"mode":"access","accessVlan":0}}""", "VLAN 0"),
            (HttpMethod.Put, "api/switches/dvs/portgroups/bad", """{"vni":5003,"vlan":{"mode":"trunk","trunkRanges":["100-5000"]}}""", "trunk range to 5000"),
            (HttpMethod.Put, "api/switches/dvs/portgroups/bad", """{"vni":5003,"vlan":{"mode":"trunk","trunkRanges":["200-100"]}}""", "reversed trunk range"),
            (HttpMethod.Put, "api/switches/dvs/portgroups/bad", """{"vni":5003,"vlan":{"mode":"trunk","trunkRanges":["abc"]}}""", "trunk range not a number"),
            (HttpMethod.Put, "api/switches/dvs/portgroups/bad", """{"vni":5003,"vlan":{"mode":"trunk","trunkRanges":["100-199"],"nativeVlan":5000}}""", "native VLAN 5000"),
            (HttpMethod.Put, "api/switches/dvs/portgroups/bad", """{"vni":5003,"vlan":{"mode":"hybrid"}}""", "unknown VLAN mode"),
            (HttpMethod.Put, "api/switches/dvs/portgroups/bad", """{"vni":5003,"security":{"macLimit":0}}""", "MAC limit 0"),
            (HttpMethod.Put, "api/switches/dvs/portgroups/bad", """{"vni":5003,"security":{"macLimit":100000}}""", "MAC limit 100000"),
            (HttpMethod.Put, "api/switches/dvs/portgroups/bad%20name", """{"vni":5003}""", "port group name with a space"),
            (HttpMethod.Put, $"api/switches/dvs/portgroups/{new string('p', 65)}", """{"vni":5003}""", "port group name of 65 characters"),
            (HttpMethod.Put, "api/switches/dvs/portgroups/%C3%BC", """{"vni":5003}""", "port group name non-ASCII"),
            (HttpMethod.Put, "api/switches/nosuchswitch/portgroups/x", """{"vni":5003}""", "port group on an unknown switch"),
            (HttpMethod.Put, "api/switches/bad%2Fname", """{"mtu":1450}""", "switch name with a slash"),
            (HttpMethod.Put, "api/switches/dvs", """{"mtu":100}""", "MTU 100"),
            (HttpMethod.Put, "api/switches/dvs", """{"mtu":100000}""", "MTU 100000"),
            (HttpMethod.Put, "api/switches/dvs", """{"mtu":""", "truncated JSON"),
            (HttpMethod.Put, "api/switches/dvs", """[1,2,3]""", "JSON array instead of object"),
            (HttpMethod.Put, "api/switches/dvs", """{"mtu":"big"}""", "MTU as a string"),
            (HttpMethod.Put, "api/switches/dvs/portgroups/bad", "not json at all", "not JSON"),
            (HttpMethod.Put, "api/switches/dvs/portgroups/bad", "{\"vni\":5003,\"vlan\":{\"mode\":\"access\",\"accessVlan\":\u0000}}", "NUL in JSON"),
            (HttpMethod.Get, "api/segments/0", null, "GET segment 0"),
            (HttpMethod.Get, "api/segments/16777216", null, "GET segment 2^24"),
            (HttpMethod.Get, "api/segments/abc/macs", null, "GET segment abc"),
            (HttpMethod.Put, $"api/segments/{ChaosFabric.WebVni}/macs/zz:zz:zz:zz:zz:zz", """{"hostId":"h1","port":"vm1"}""", "MAC zz:.."),
            (HttpMethod.Put, $"api/segments/{ChaosFabric.WebVni}/macs/02:00:00:00:00", """{"hostId":"h1","port":"vm1"}""", "MAC of 5 bytes"),
            (HttpMethod.Put, $"api/segments/{ChaosFabric.WebVni}/macs/ff:ff:ff:ff:ff:ff", """{"hostId":"h1","port":"vm1"}""", "broadcast MAC"),
            (HttpMethod.Put, $"api/segments/{ChaosFabric.WebVni}/macs/01:00:5e:00:00:01", """{"hostId":"h1","port":"vm1"}""", "multicast MAC"),
            (HttpMethod.Put, $"api/segments/{ChaosFabric.WebVni}/macs/02:aa:00:00:00:01", """{"hostId":"nosuchhost","port":"vm1"}""", "static MAC on an unknown host"),
            (HttpMethod.Put, $"api/segments/{ChaosFabric.WebVni}/macs/02:aa:00:00:00:01", """{"hostId":"h 1","port":"vm1"}""", "static MAC, bad host name"),
            (HttpMethod.Put, $"api/segments/{ChaosFabric.WebVni}/macs/02:aa:00:00:00:01", """{"vtep":"300.1.1.1"}""", "static MAC behind a bad VTEP address"),
            (HttpMethod.Delete, $"api/segments/{ChaosFabric.WebVni}/macs/02:aa:00:00:00:99", null, "DELETE a MAC that is not there"),
            (HttpMethod.Get, "api/hosts/bad%20host", null, "GET host with a bad name"),
            (HttpMethod.Get, "api/hosts/nosuchhost", null, "GET unknown host"),
            (HttpMethod.Delete, "api/switches/dvs/portgroups/web", null, "DELETE port group web while host ports use it"),
            (HttpMethod.Delete, "api/switches/dvs/portgroups/db", null, "DELETE port group db while host ports use it"),
            (HttpMethod.Delete, "api/switches/dvs", null, "DELETE the switch while port groups remain"),
            (HttpMethod.Delete, "api/switches/dvs/portgroups/nosuchgroup", null, "DELETE an unknown port group"),
        };

        var failures = new List<string>();
        var codes = new SortedDictionary<int, int>();
        foreach (var (method, path, body, why) in cases)
        {
            var (status, text, contentType) = await fabric.SendFullAsync(method, path, body);
            int code = (int)status;
            codes[code] = codes.GetValueOrDefault(code) + 1;
            string detail = string.Empty;
            bool problem = false;
            try
            {
                var json = JsonDocument.Parse(text).RootElement;
                problem = json.TryGetProperty("title", out _) && json.TryGetProperty("status", out var s) && s.GetInt32() == code;
                detail = (json.TryGetProperty("detail", out var d) ? d.GetString() : string.Empty)
                    + (json.TryGetProperty("field", out var f) ? $" (field {f})" : string.Empty);
            }
            catch (JsonException)
            {
            }

            output.WriteLine($"{why}: {method} {path} → {code} {contentType} {detail}");
            if (code is < 400 or >= 500 || !problem || contentType != "application/problem+json")
            {
                failures.Add($"{why}: {method} {path} → {code} {contentType} {text}");
            }
        }

        var after = await SnapshotAsync(views);
        var changed = views.Where(v => before[v] != after[v]).ToList();
        Report(Case, $"{cases.Length} bad requests: {string.Join(", ", codes.Select(kv => $"{kv.Value}×{kv.Key}"))}; not a 4xx problem: {failures.Count} (goal 0); views changed: {changed.Count} (goal 0)");
        Assert.True(failures.Count == 0, "not a clear 4xx problem:\n" + string.Join('\n', failures));
        Assert.True(changed.Count == 0, "state changed:\n" + string.Join('\n', changed.Select(v => $"{v}\nbefore {before[v]}\nafter  {after[v]}")));

        // The data plane did not notice either.
        var ping = await Shell.InNamespaceAsync(fabric.VmNamespace(1, 1), $"ping -c 3 -i 0.2 -W 1 {fabric.VmIp(2, 1)}");
        Assert.True(ping.ExitCode == 0, ping.Output);
    }

    /// <summary>The views, with what changes by itself (heartbeat times) left out.</summary>
    private async Task<Dictionary<string, string>> SnapshotAsync(IEnumerable<string> views)
    {
        var result = new Dictionary<string, string>();
        foreach (var view in views)
        {
            var (status, body) = await fabric.SendAsync(HttpMethod.Get, view);
            Assert.Equal(HttpStatusCode.OK, status);
            result[view] = body;
        }

        return result;
    }
}
