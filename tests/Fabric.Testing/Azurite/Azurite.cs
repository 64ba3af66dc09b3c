using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Azure.Data.Tables;

namespace Fabric.Testing;

/// <summary>
/// An Azurite table service (the Azure Table storage emulator) as a process: in memory, on a free
/// loopback port, ready once a real table call succeeds; paused (SIGSTOP) to take storage away, and
/// killed with its tree on dispose.
/// </summary>
/// <remarks>
/// The binary is the npm package pinned in tests/azurite (install with <c>npm ci --prefix tests/azurite</c>,
/// which deploy/prerequisites.sh does), or the one FABRIC_AZURITE_BIN names.
/// </remarks>
public sealed class Azurite : IAsyncDisposable
{
    /// <summary>The development account every Azurite instance serves.</summary>
    public const string AccountName = "devstoreaccount1";

    /// <summary>The well-known development account key every Azurite instance accepts; not a secret.</summary>
    public const string AccountKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

    private readonly string _workDirectory;

    private Azurite(TestProcess process, int port, string workDirectory)
    {
        Process = process;
        Port = port;
        _workDirectory = workDirectory;
    }

    /// <summary>The Azurite process (pause it with <see cref="TestProcess.Pause"/> to take storage away).</summary>
    public TestProcess Process { get; }

    /// <summary>The table service's port on 127.0.0.1.</summary>
    public int Port { get; }

    /// <summary>The connection string of the development account on this instance.</summary>
    public string ConnectionString => DevelopmentConnectionString(Port);

    /// <summary>The development account's connection string for a table endpoint on 127.0.0.1:<paramref name="port"/>.</summary>
    public static string DevelopmentConnectionString(int port) =>
        $"DefaultEndpointsProtocol=http;AccountName={AccountName};AccountKey={AccountKey};TableEndpoint=http://127.0.0.1:{port}/{AccountName};";

    /// <summary>Starts Azurite on a free port and waits (at most <paramref name="timeout"/>, default 60 s) until a table call succeeds.</summary>
    /// <param name="sharedLog">A fixture's log that also gets Azurite's output.</param>
    public static async Task<Azurite> StartAsync(TimeSpan? timeout = null, OutputLog? sharedLog = null)
    {
        string binary = FindBinary();
        int port = FreePorts.Tcp();
        string directory = Directory.CreateTempSubdirectory("fabric-azurite-").FullName;
        var process = TestProcess.Start("azurite", binary,
            ["--inMemoryPersistence", "--tableHost", "127.0.0.1", "--tablePort", port.ToString(CultureInfo.InvariantCulture),
             "--skipApiVersionCheck", "--loose", "--disableProductStyleUrl", "--disableTelemetry", "--silent"],
            new TestProcessOptions { WorkingDirectory = directory, SharedLog = sharedLog, MaxOutputChars = 64 * 1024, Timestamps = true });
        var azurite = new Azurite(process, port, directory);
        try
        {
            var client = new TableServiceClient(azurite.ConnectionString);
            await Eventually.WaitAsync(
                async () =>
                {
                    if (process.HasExited)
                    {
                        throw new WaitAbortedException($"Azurite exited with code {process.ExitCode} before it answered.\n{process.Tail()}");
                    }

                    using (var tcp = new TcpClient())
                    {
                        await tcp.ConnectAsync(IPAddress.Loopback, port);
                    }

                    // The port answering is not enough: a real table call must succeed.
                    await client.CreateTableIfNotExistsAsync("FabricProbe");
                    return true;
                },
                timeout ?? TimeSpan.FromSeconds(60),
                $"Azurite answering table calls on 127.0.0.1:{port}",
                TimeSpan.FromMilliseconds(100));
            return azurite;
        }
        catch (TimeoutException ex)
        {
            await azurite.DisposeAsync();
            throw new TimeoutException($"{ex.Message}\n{process.Tail()}", ex);
        }
        catch
        {
            await azurite.DisposeAsync();
            throw;
        }
    }

    /// <summary>Kills Azurite (with its tree) and removes its work directory.</summary>
    public ValueTask DisposeAsync()
    {
        Process.Dispose();
        try
        {
            Directory.Delete(_workDirectory, recursive: true);
        }
        catch (IOException)
        {
        }

        return ValueTask.CompletedTask;
    }

    private static string FindBinary()
    {
        if (Environment.GetEnvironmentVariable("FABRIC_AZURITE_BIN") is { Length: > 0 } configured)
        {
            return File.Exists(configured)
                ? configured
                : throw new FileNotFoundException($"FABRIC_AZURITE_BIN points to '{configured}', which does not exist.");
        }

        string candidate = Repository.Path("tests", "azurite", "node_modules", ".bin", "azurite-table");
        return File.Exists(candidate)
            ? candidate
            : throw new FileNotFoundException(
                $"Azurite is not installed: '{candidate}' is missing. Run `npm ci --prefix tests/azurite` in {Repository.Root} " +
                "(or set FABRIC_AZURITE_BIN to an azurite-table executable).");
    }
}
