using System.Net;
using System.Text.Json.Nodes;

namespace Fabric.Silo.Tests;

/// <summary>
/// The silo installed somewhere (a copy of its build output, as under <c>/opt</c>) and started from
/// another directory: it reads the <c>appsettings.json</c> next to its binary, so it listens where
/// that file says and logs at the levels it sets.
/// </summary>
[Trait("Category", "Ops")]
public sealed class ContentRootTests
{
    [Fact]
    public async Task A_silo_started_from_another_directory_reads_the_appsettings_next_to_its_dll()
    {
        string install = Directory.CreateTempSubdirectory("fabric-opt-").FullName;
        string elsewhere = Directory.CreateTempSubdirectory("fabric-cwd-").FullName;
        try
        {
            string built = Path.GetDirectoryName(BuiltOutputs.SiloDll)!;
            Copy(built, install);

            // Only the installed appsettings.json says where to listen: no --urls, no environment.
            var ports = SiloPorts.Free();
            string settingsFile = Path.Combine(install, "appsettings.json");
            var settings = JsonNode.Parse(await File.ReadAllTextAsync(settingsFile))!.AsObject();
            settings["Urls"] = $"http://127.0.0.1:{ports.Http}";
            var cluster = settings["Fabric"]!["Cluster"]!.AsObject();
            cluster["SiloPort"] = ports.Silo;
            cluster["GatewayPort"] = ports.Gateway;
            cluster["ClusterId"] = $"content-root-{Guid.NewGuid():N}";
            await File.WriteAllTextAsync(settingsFile, settings.ToJsonString());

            await using var process = TestProcess.Start("installed silo", "dotnet", [Path.Combine(install, "Fabric.Silo.dll")], new TestProcessOptions
            {
                WorkingDirectory = elsewhere,
                Environment = new Dictionary<string, string?>
                {
                    ["ASPNETCORE_URLS"] = null,
                    ["DOTNET_URLS"] = null,
                    ["ASPNETCORE_HTTP_PORTS"] = null,
                    ["ASPNETCORE_CONTENTROOT"] = null,
                    ["DOTNET_CONTENTROOT"] = null,
                    ["Logging__LogLevel__Default"] = null,
                },
            });
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{ports.Http}/"), Timeout = TimeSpan.FromSeconds(10) };
            await WaitHealthyAsync(process, http, ports.Http);
            Assert.Contains($"Content root path: {install}", process.Output.Text, StringComparison.Ordinal);

            // Grain calls through the API log nothing per call at the installed levels (no Polly or
            // Orleans line per call); a configuration change logs its one line (event 1000).
            using (var put = await http.PutAsync("api/switches/quiet", new StringContent("""{"mtu":1450}""", System.Text.Encoding.UTF8, "application/json")))
            {
                Assert.Equal(HttpStatusCode.OK, put.StatusCode);
            }

            await Eventually.WaitAsync(() => process.Output.Contains("Switch quiet created"), TimeSpan.FromSeconds(10), "the switch's creation logged");
            int before = Lines(process.Output.Text);
            foreach (string path in Enumerable.Repeat(new[] { "api/switches", "api/switches/quiet", "api/hosts", "api/fabric" }, 10).SelectMany(p => p))
            {
                using var get = await http.GetAsync(path);
                Assert.Equal(HttpStatusCode.OK, get.StatusCode);
            }

            string output = process.Output.Text;
            Assert.DoesNotContain("Polly", output, StringComparison.Ordinal);
            int added = Lines(output) - before;
            Assert.True(added == 0, $"40 API reads logged {added} lines:\n{process.Tail(60)}");
        }
        finally
        {
            TryDelete(install);
            TryDelete(elsewhere);
        }
    }

    private static async Task WaitHealthyAsync(TestProcess process, HttpClient http, int port)
    {
        try
        {
            await Eventually.WaitAsync(
                async () =>
                {
                    if (process.HasExited)
                    {
                        throw new WaitAbortedException($"the silo exited with {process.ExitCode}:\n{process.Tail()}");
                    }

                    try
                    {
                        using var response = await http.GetAsync("healthz");
                        return response.StatusCode == HttpStatusCode.OK;
                    }
                    catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
                    {
                        return false;
                    }
                },
                TimeSpan.FromSeconds(90),
                $"the installed silo healthy on its configured port {port}");
        }
        catch (TimeoutException ex)
        {
            throw new TimeoutException($"{ex.Message}\n{process.Tail()}", ex);
        }
    }

    private static int Lines(string text) => text.Count(c => c == '\n');

    private static void Copy(string source, string target)
    {
        Directory.CreateDirectory(target);
        foreach (string file in Directory.GetFiles(source))
        {
            File.Copy(file, Path.Combine(target, Path.GetFileName(file)), overwrite: true);
        }

        foreach (string directory in Directory.GetDirectories(source))
        {
            Copy(directory, Path.Combine(target, Path.GetFileName(directory)));
        }
    }

    private static void TryDelete(string directory)
    {
        try
        {
            Directory.Delete(directory, recursive: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
        }
    }
}
