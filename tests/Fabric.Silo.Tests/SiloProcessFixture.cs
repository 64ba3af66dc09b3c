using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Fabric.Silo.Tests;

/// <summary>
/// A real silo process (the built Fabric.Silo.dll) on free loopback ports, started once for the
/// collection and killed on dispose, also when a test fails.
/// </summary>
public sealed class SiloProcessFixture : IAsyncLifetime
{
    private readonly StringBuilder _output = new();
    private Process? _process;

    public HttpClient Http { get; private set; } = null!;

    public Uri BaseAddress { get; private set; } = null!;

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

    public async Task InitializeAsync()
    {
        int http = FreeTcpPort();
        int siloPort = FreeTcpPort();
        int gatewayPort = FreeTcpPort();
        BaseAddress = new Uri($"http://127.0.0.1:{http}/");
        var siloDll = Path.Combine(AppContext.BaseDirectory, "Fabric.Silo.dll");
        var start = new ProcessStartInfo("dotnet")
        {
            ArgumentList =
            {
                siloDll,
                "--urls", BaseAddress.ToString().TrimEnd('/'),
                "--Fabric:Cluster:SiloPort", siloPort.ToString(),
                "--Fabric:Cluster:GatewayPort", gatewayPort.ToString(),
                "--Fabric:Cluster:ClusterId", $"silo-tests-{Guid.NewGuid():N}",
            },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = AppContext.BaseDirectory,
        };
        _process = Process.Start(start) ?? throw new InvalidOperationException("could not start the silo process");
        _process.OutputDataReceived += (_, e) => Append(e.Data);
        _process.ErrorDataReceived += (_, e) => Append(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();

        Http = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(90);
        while (DateTime.UtcNow < deadline)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"the silo exited with {_process.ExitCode}:\n{Output}");
            }

            try
            {
                using var response = await Http.GetAsync("healthz");
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }

            await Task.Delay(200);
        }

        throw new TimeoutException($"the silo did not become healthy in 90 s:\n{Output}");
    }

    public async Task DisposeAsync()
    {
        Http?.Dispose();
        if (_process is { HasExited: false })
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process?.Dispose();
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            _output.AppendLine(line);
        }
    }

    private static int FreeTcpPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

[CollectionDefinition(Name)]
public sealed class SiloCollection : ICollectionFixture<SiloProcessFixture>
{
    public const string Name = "silo process";
}
