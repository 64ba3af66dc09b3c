using System.Globalization;
using System.Net;

namespace Fabric.Testing;

/// <summary>The loopback ports of one silo: HTTP (API, dashboard, /healthz), silo-to-silo, and the client gateway.</summary>
public sealed record SiloPorts(int Http, int Silo, int Gateway)
{
    /// <summary>Three free loopback ports.</summary>
    public static SiloPorts Free() => new(FreePorts.Tcp(), FreePorts.Tcp(), FreePorts.Tcp());
}

/// <summary>
/// One <c>dotnet Fabric.Silo.dll</c> process from the built output (<see cref="BuiltOutputs"/>) on
/// loopback ports, known by its PID: healthy once <c>GET /healthz</c> answers 200 (an active cluster
/// member), killed (SIGKILL, a crash) or stopped gracefully (SIGTERM, bounded, then SIGKILL).
/// </summary>
public sealed class SiloProcess : FabricProcess
{
    private SiloProcess(string name, SiloPorts ports, TestProcess process, TimeSpan httpTimeout)
        : base(name, process)
    {
        Ports = ports;
        BaseAddress = new Uri($"http://127.0.0.1:{ports.Http}/");
        Http = new HttpClient { BaseAddress = BaseAddress, Timeout = httpTimeout };
    }

    /// <summary>Its ports (a restarted silo may keep them).</summary>
    public SiloPorts Ports { get; }

    /// <summary>The HTTP port.</summary>
    public int HttpPort => Ports.Http;

    /// <summary>The silo-to-silo port (how Orleans names the silo: <c>SiloAddress.Endpoint.Port</c>).</summary>
    public int SiloPort => Ports.Silo;

    /// <summary>The client gateway port.</summary>
    public int GatewayPort => Ports.Gateway;

    /// <summary>The HTTP base address, <c>http://127.0.0.1:port/</c>.</summary>
    public Uri BaseAddress { get; }

    /// <summary>An HTTP client on <see cref="BaseAddress"/>.</summary>
    public HttpClient Http { get; }

    /// <summary>
    /// Starts the silo with <paramref name="settings"/> as command-line configuration (<c>--Key value</c>)
    /// on <paramref name="ports"/> (fresh ones by default). Console log lines carry a timestamp.
    /// </summary>
    /// <param name="sharedLog">A fixture's log that also gets the silo's output.</param>
    /// <param name="httpTimeout">The timeout of <see cref="Http"/>. Defaults to 30 s.</param>
    public static SiloProcess Start(string name, IReadOnlyDictionary<string, string> settings, SiloPorts? ports = null, OutputLog? sharedLog = null, TimeSpan? httpTimeout = null)
    {
        ports ??= SiloPorts.Free();
        var arguments = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase)
        {
            ["Logging:Console:TimestampFormat"] = "HH:mm:ss.fff ",
        };
        foreach (var (key, value) in settings)
        {
            arguments[key] = value;
        }

        arguments["urls"] = $"http://127.0.0.1:{ports.Http}";
        arguments["Fabric:Cluster:SiloPort"] = ports.Silo.ToString(CultureInfo.InvariantCulture);
        arguments["Fabric:Cluster:GatewayPort"] = ports.Gateway.ToString(CultureInfo.InvariantCulture);
        var process = TestProcess.StartDotnet(name, BuiltOutputs.SiloDll, arguments.SelectMany(a => new[] { "--" + a.Key, a.Value }),
            new TestProcessOptions { SharedLog = sharedLog });
        return new SiloProcess(name, ports, process, httpTimeout ?? TimeSpan.FromSeconds(30));
    }

    /// <summary>One probe: whether the silo runs and <c>GET /healthz</c> answers 200 now.</summary>
    public async Task<bool> IsHealthyAsync()
    {
        if (Process.HasExited)
        {
            return false;
        }

        try
        {
            using var response = await Http.GetAsync("healthz");
            return response.StatusCode == HttpStatusCode.OK;
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
        {
            return false; // not listening yet
        }
    }

    /// <summary>Waits until <c>GET /healthz</c> answers 200; fails at once if the silo exits, with its output's tail.</summary>
    public async Task WaitHealthyAsync(TimeSpan timeout)
    {
        try
        {
            await Eventually.WaitAsync(
                async () => Process.HasExited
                    ? throw new WaitAbortedException($"silo {Name} (pid {Pid}) exited with {ExitCode} before it was healthy:\n{Tail()}")
                    : await IsHealthyAsync(),
                timeout,
                $"silo {Name} (pid {Pid}) healthy",
                TimeSpan.FromMilliseconds(100));
        }
        catch (TimeoutException ex)
        {
            throw new TimeoutException($"{ex.Message}\n{Tail()}", ex);
        }
    }

    /// <summary>Releases the HTTP client.</summary>
    protected override void Release() => Http.Dispose();
}
