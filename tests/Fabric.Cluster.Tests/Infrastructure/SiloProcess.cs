using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Runtime.InteropServices;
using System.Text;
using Fabric.Providers.Tests.Infrastructure;

namespace Fabric.Cluster.Tests.Infrastructure;

/// <summary>
/// One <c>dotnet Fabric.Silo.dll</c> process on its own free loopback ports, known by its PID.
/// Stopped gracefully (SIGTERM, bounded wait, then SIGKILL) or killed outright; never left running:
/// the test host's exit kills it too.
/// </summary>
public sealed partial class SiloProcess : IAsyncDisposable
{
    private const int SigTerm = 15;
    private const int MaxOutput = 256 * 1024;

    private readonly StringBuilder _output = new();
    private readonly Process _process;

    private SiloProcess(string name, int httpPort, int siloPort, int gatewayPort, Process process)
    {
        Name = name;
        HttpPort = httpPort;
        SiloPort = siloPort;
        GatewayPort = gatewayPort;
        _process = process;
        Http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{httpPort}/"), Timeout = TimeSpan.FromSeconds(10) };
    }

    public string Name { get; }

    public int HttpPort { get; }

    public int SiloPort { get; }

    public int GatewayPort { get; }

    public int Pid => _process.Id;

    public HttpClient Http { get; }

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    /// <summary>Everything the process wrote to stdout and stderr so far (capped).</summary>
    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    /// <summary>The last lines of <see cref="Output"/>, for assertion messages.</summary>
    public string Tail(int lines = 40) => string.Join('\n', Output.Split('\n').TakeLast(lines));

    /// <summary>
    /// Starts the silo with <paramref name="settings"/> as command-line configuration
    /// (<c>--Key value</c>), on fresh loopback ports for HTTP, silo-to-silo and gateway traffic.
    /// </summary>
    public static SiloProcess Start(string name, IReadOnlyDictionary<string, string> settings)
    {
        int http = AzuriteFixture.FreeLoopbackPort();
        int silo = AzuriteFixture.FreeLoopbackPort();
        int gateway = AzuriteFixture.FreeLoopbackPort();
        var start = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = AppContext.BaseDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Fabric.Silo.dll"));
        var arguments = new Dictionary<string, string>(settings)
        {
            ["urls"] = $"http://127.0.0.1:{http}",
            ["Fabric:Cluster:SiloPort"] = silo.ToString(CultureInfo.InvariantCulture),
            ["Fabric:Cluster:GatewayPort"] = gateway.ToString(CultureInfo.InvariantCulture),
            ["Logging:Console:TimestampFormat"] = "HH:mm:ss.fff ",
        };
        foreach (var (key, value) in arguments)
        {
            start.ArgumentList.Add("--" + key);
            start.ArgumentList.Add(value);
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException("could not start dotnet Fabric.Silo.dll");
        var instance = new SiloProcess(name, http, silo, gateway, process);
        process.OutputDataReceived += (_, e) => instance.Append(e.Data);
        process.ErrorDataReceived += (_, e) => instance.Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        AppDomain.CurrentDomain.ProcessExit += instance.KillOnExit;
        return instance;
    }

    /// <summary>Waits for <c>GET /healthz</c> to answer 200 (the silo is an active cluster member).</summary>
    public async Task WaitHealthyAsync(TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < timeout)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"silo {Name} (pid {Pid}) exited with {_process.ExitCode} before it was healthy:\n{Tail()}");
            }

            try
            {
                using var response = await Http.GetAsync("healthz");
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    return;
                }
            }
            catch (Exception exception) when (exception is HttpRequestException or TaskCanceledException)
            {
                // Not listening yet.
            }

            await Task.Delay(100);
        }

        throw new TimeoutException($"silo {Name} (pid {Pid}) was not healthy within {timeout.TotalSeconds} s:\n{Tail()}");
    }

    /// <summary>SIGKILL, like a crashed host: no shutdown, no goodbye in the membership table.</summary>
    public void Kill()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
            }
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }

        _process.WaitForExit(10_000);
    }

    /// <summary>SIGTERM (the host's graceful shutdown), then SIGKILL if it is still running after <paramref name="grace"/>.</summary>
    /// <returns>True if the process ended by itself within the grace period.</returns>
    public async Task<bool> StopAsync(TimeSpan grace)
    {
        if (_process.HasExited)
        {
            return true;
        }

        _ = SendSignal(Pid, SigTerm);
        using var timeout = new CancellationTokenSource(grace);
        try
        {
            await _process.WaitForExitAsync(timeout.Token);
            return true;
        }
        catch (OperationCanceledException)
        {
            Kill();
            return false;
        }
    }

    /// <summary>Waits for the process to end by itself, at most <paramref name="timeout"/>.</summary>
    public async Task<bool> WaitForExitAsync(TimeSpan timeout)
    {
        using var cancel = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cancel.Token);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    public ValueTask DisposeAsync()
    {
        AppDomain.CurrentDomain.ProcessExit -= KillOnExit;
        Kill();
        Http.Dispose();
        _process.Dispose();
        return ValueTask.CompletedTask;
    }

    private void KillOnExit(object? sender, EventArgs e) => Kill();

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            if (_output.Length < MaxOutput)
            {
                _output.AppendLine(line);
            }
        }
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int SendSignal(int pid, int signal);
}
