using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Azure.Data.Tables;

namespace Fabric.Providers.Tests.Infrastructure;

/// <summary>
/// One Azurite table service for the whole test run: started once on a free loopback port, in memory,
/// and killed (with its children) when the collection ends or when starting it fails.
/// </summary>
/// <remarks>
/// The binary is the npm package pinned in tests/azurite (install with <c>npm ci --prefix tests/azurite</c>),
/// found by walking up from the test assembly to the repository root, or taken from FABRIC_AZURITE_BIN.
/// </remarks>
public sealed class AzuriteFixture : IAsyncLifetime
{
    public const string AccountName = "devstoreaccount1";

    // The well-known development account key every Azurite instance accepts; not a secret.
    public const string AccountKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);

    private readonly StringBuilder _output = new();
    private Process? _process;
    private string? _workDirectory;

    public int Port { get; private set; }

    public string ConnectionString => DevelopmentConnectionString(Port);

    public static string DevelopmentConnectionString(int port) =>
        $"DefaultEndpointsProtocol=http;AccountName={AccountName};AccountKey={AccountKey};TableEndpoint=http://127.0.0.1:{port}/{AccountName};";

    public async Task InitializeAsync()
    {
        var binary = FindAzuriteTable();
        Port = FreeLoopbackPort();
        _workDirectory = Directory.CreateTempSubdirectory("fabric-azurite-").FullName;
        var start = new ProcessStartInfo(binary)
        {
            WorkingDirectory = _workDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in new[]
                 {
                     "--inMemoryPersistence", "--tableHost", "127.0.0.1", "--tablePort", Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
                     "--skipApiVersionCheck", "--loose", "--disableProductStyleUrl", "--disableTelemetry", "--silent",
                 })
        {
            start.ArgumentList.Add(argument);
        }

        try
        {
            _process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {binary}.");
            _process.OutputDataReceived += (_, e) => Append(e.Data);
            _process.ErrorDataReceived += (_, e) => Append(e.Data);
            _process.BeginOutputReadLine();
            _process.BeginErrorReadLine();
            AppDomain.CurrentDomain.ProcessExit += KillOnExit;
            await WaitUntilReadyAsync();
        }
        catch
        {
            Kill();
            throw;
        }
    }

    public Task DisposeAsync()
    {
        AppDomain.CurrentDomain.ProcessExit -= KillOnExit;
        Kill();
        return Task.CompletedTask;
    }

    private async Task WaitUntilReadyAsync()
    {
        var deadline = Stopwatch.StartNew();
        var client = new TableServiceClient(ConnectionString);
        Exception? last = null;
        while (deadline.Elapsed < StartTimeout)
        {
            if (_process!.HasExited)
            {
                throw new InvalidOperationException($"Azurite exited with code {_process.ExitCode} before it answered.\n{Output}");
            }

            try
            {
                using (var tcp = new TcpClient())
                {
                    await tcp.ConnectAsync(IPAddress.Loopback, Port);
                }

                // The port answering is not enough: a real table call must succeed.
                await client.CreateTableIfNotExistsAsync("FabricProbe");
                return;
            }
            catch (Exception exception) when (exception is SocketException or Azure.RequestFailedException or IOException or HttpRequestException)
            {
                last = exception;
                await Task.Delay(100);
            }
        }

        throw new TimeoutException($"Azurite did not answer on 127.0.0.1:{Port} within {StartTimeout.TotalSeconds} s ({last?.Message}).\n{Output}");
    }

    private string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            if (_output.Length < 64 * 1024)
            {
                _output.AppendLine(line);
            }
        }
    }

    private void KillOnExit(object? sender, EventArgs e) => Kill();

    private void Kill()
    {
        var process = Interlocked.Exchange(ref _process, null);
        if (process is not null)
        {
            try
            {
                if (!process.HasExited)
                {
                    process.Kill(entireProcessTree: true);
                    process.WaitForExit(10_000);
                }
            }
            catch (InvalidOperationException)
            {
                // Already gone.
            }
            finally
            {
                process.Dispose();
            }
        }

        if (_workDirectory is { } directory && Directory.Exists(directory))
        {
            try
            {
                Directory.Delete(directory, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    /// <summary>A loopback port nothing listens on right now.</summary>
    public static int FreeLoopbackPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    private static string FindAzuriteTable()
    {
        if (Environment.GetEnvironmentVariable("FABRIC_AZURITE_BIN") is { Length: > 0 } configured)
        {
            return File.Exists(configured)
                ? configured
                : throw new FileNotFoundException($"FABRIC_AZURITE_BIN points to '{configured}', which does not exist.");
        }

        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Fabric.sln")))
            {
                var candidate = Path.Combine(directory.FullName, "tests", "azurite", "node_modules", ".bin", "azurite-table");
                return File.Exists(candidate)
                    ? candidate
                    : throw new FileNotFoundException(
                        $"Azurite is not installed: '{candidate}' is missing. Run `npm ci --prefix tests/azurite` in {directory.FullName} " +
                        "(or set FABRIC_AZURITE_BIN to an azurite-table executable).");
            }
        }

        throw new DirectoryNotFoundException(
            $"Could not find the repository root (Fabric.sln) above {AppContext.BaseDirectory}; set FABRIC_AZURITE_BIN to an azurite-table executable.");
    }
}

[CollectionDefinition(Name)]
public sealed class AzuriteCollection : ICollectionFixture<AzuriteFixture>
{
    public const string Name = "Azurite";
}
