using System.Globalization;
using System.Text.Json;

namespace Fabric.Testing;

/// <summary>A Prometheus scrape target: the job name and an HTTP base address (<c>http://127.0.0.1:port</c>) whose <c>/metrics</c> is scraped.</summary>
public sealed record ScrapeTarget(string Job, Uri BaseAddress);

/// <summary>
/// A real Prometheus (Debian's <c>/usr/bin/prometheus</c>) on a free loopback port, with a
/// configuration and a TSDB directory of its own under a temporary directory, scraping
/// <see cref="ScrapeTarget"/>s every second. Known by its PID; disposing kills it and removes the
/// directory, whatever state the test left it in.
/// </summary>
public sealed class PrometheusServer : IAsyncDisposable
{
    /// <summary>Debian's Prometheus server (package <c>prometheus</c>).</summary>
    public const string Executable = "/usr/bin/prometheus";

    private readonly TestProcess _process;
    private readonly string _directory;

    private PrometheusServer(TestProcess process, string directory, Uri address)
    {
        _process = process;
        _directory = directory;
        Address = address;
        Http = new HttpClient { BaseAddress = address, Timeout = TimeSpan.FromSeconds(10) };
    }

    /// <summary>Its HTTP address (web UI and API).</summary>
    public Uri Address { get; }

    /// <summary>An HTTP client on <see cref="Address"/>.</summary>
    public HttpClient Http { get; }

    /// <summary>Its output, for a failure message.</summary>
    public string Tail(int lines = 40) => _process.Tail(lines);

    /// <summary>Starts Prometheus scraping <paramref name="targets"/> every second and waits (at most 60 s) until it answers <c>/-/ready</c>.</summary>
    public static async Task<PrometheusServer> StartAsync(IEnumerable<ScrapeTarget> targets, OutputLog? sharedLog = null)
    {
        string directory = Directory.CreateTempSubdirectory("fabric-prometheus-").FullName;
        TestProcess? process = null;
        try
        {
            string config = Path.Combine(directory, "prometheus.yml");
            await File.WriteAllTextAsync(config, Configuration(targets));
            int port = FreePorts.Tcp();
            process = TestProcess.Start("prometheus", Executable,
            [
                $"--config.file={config}",
                $"--storage.tsdb.path={Path.Combine(directory, "data")}",
                $"--web.listen-address=127.0.0.1:{port}",
                "--log.level=warn",
            ], new TestProcessOptions { SharedLog = sharedLog });
            var server = new PrometheusServer(process, directory, new Uri($"http://127.0.0.1:{port}/"));
            await Eventually.WaitAsync(server.IsReadyAsync, TimeSpan.FromSeconds(60), $"prometheus ready on port {port}");
            return server;
        }
        catch
        {
            process?.Dispose();
            TryDelete(directory);
            throw;
        }
    }

    /// <summary>
    /// The value of an instant query (<c>/api/v1/query</c>) per series, keyed by the value of
    /// <paramref name="label"/> (empty when the series lacks it); empty when nothing matches.
    /// </summary>
    public async Task<IReadOnlyDictionary<string, double>> QueryAsync(string promql, string label)
    {
        using var response = await Http.GetAsync($"api/v1/query?query={Uri.EscapeDataString(promql)}");
        string body = await response.Content.ReadAsStringAsync();
        if (!response.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"query {promql}: {(int)response.StatusCode} {body}");
        }

        var result = new Dictionary<string, double>(StringComparer.Ordinal);
        using var document = JsonDocument.Parse(body);
        foreach (var series in document.RootElement.GetProperty("data").GetProperty("result").EnumerateArray())
        {
            string key = series.GetProperty("metric").TryGetProperty(label, out var value) ? value.GetString() ?? "" : "";
            result[key] = double.Parse(series.GetProperty("value")[1].GetString()!, CultureInfo.InvariantCulture);
        }

        return result;
    }

    /// <summary>Kills the process and removes its directory.</summary>
    public ValueTask DisposeAsync()
    {
        Http.Dispose();
        _process.Dispose();
        TryDelete(_directory);
        return ValueTask.CompletedTask;
    }

    private async Task<bool> IsReadyAsync()
    {
        if (_process.HasExited)
        {
            throw new WaitAbortedException($"prometheus exited with {_process.ExitCode}:\n{_process.Tail()}");
        }

        try
        {
            using var response = await Http.GetAsync("-/ready");
            return response.IsSuccessStatusCode;
        }
        catch (HttpRequestException)
        {
            return false;
        }
    }

    private static string Configuration(IEnumerable<ScrapeTarget> targets)
    {
        var text = new System.Text.StringBuilder();
        text.AppendLine("global:");
        text.AppendLine("  scrape_interval: 1s");
        text.AppendLine("  scrape_timeout: 1s");
        text.AppendLine("scrape_configs:");
        foreach (var target in targets)
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"  - job_name: {target.Job}");
            text.AppendLine(CultureInfo.InvariantCulture, $"    metrics_path: {(target.BaseAddress.AbsolutePath.TrimEnd('/') is { Length: > 0 } path ? path : "")}/metrics");
            text.AppendLine("    static_configs:");
            text.AppendLine(CultureInfo.InvariantCulture, $"      - targets: ['{target.BaseAddress.Authority}']");
        }

        return text.ToString();
    }

    private static void TryDelete(string directory)
    {
        try
        {
            Directory.Delete(directory, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}

/// <summary>Debian's <c>promtool</c> (package <c>prometheus</c>).</summary>
public static class Promtool
{
    /// <summary>
    /// <c>promtool check metrics</c> on <paramref name="exposition"/> (the Prometheus text format):
    /// the exit code (0: no problem) and what it printed (lint findings: names, units, suffixes, help).
    /// </summary>
    public static async Task<Shell.Result> CheckMetricsAsync(string exposition)
    {
        string file = Path.GetTempFileName();
        try
        {
            await File.WriteAllTextAsync(file, exposition);
            return await Shell.RunAsync("/bin/sh", ["-c", $"exec promtool check metrics < '{file}'"], TimeSpan.FromSeconds(30));
        }
        finally
        {
            File.Delete(file);
        }
    }
}
