using System.Text.Json;
using Fabric.HostAgent.Configuration;
using Fabric.HostAgent.Diagnostics;
using Fabric.HostAgent.Forwarding;
using Microsoft.Extensions.Options;

namespace Fabric.HostAgent.Status;

/// <summary>
/// Rewrites <see cref="AgentOptions.StatusFile"/> every second (and once more at stop) with an
/// <see cref="AgentStatus"/>, atomically (temporary file, then rename), so a reader never sees half
/// a file. Does nothing when no status file is configured. Independent of the cluster connection.
/// </summary>
internal sealed partial class StatusFileWriter(
    IOptions<AgentOptions> options,
    DataPlane dataPlane,
    TimeProvider time,
    ILogger<StatusFileWriter> logger) : BackgroundService
{
    /// <summary>How often the file is rewritten.</summary>
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    private readonly AgentOptions _options = options.Value;
    private bool _failureReported;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (_options.StatusFile is not { Length: > 0 })
        {
            return;
        }

        using var timer = new PeriodicTimer(Interval, time);
        do
        {
            Write();
        }
        while (await WaitAsync(timer, stoppingToken));
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        if (_options.StatusFile is { Length: > 0 })
        {
            Write(); // the final counters
        }
    }

    /// <summary>Writes the status file now.</summary>
    public void Write()
    {
        string path = _options.StatusFile!;
        try
        {
            string temp = path + ".tmp";
            File.WriteAllBytes(temp, JsonSerializer.SerializeToUtf8Bytes(AgentStatus.Of(_options.HostId, dataPlane, time.GetUtcNow()), Json));
            File.Move(temp, path, overwrite: true);
            _failureReported = false;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            if (!_failureReported)
            {
                Log.StatusFailed(logger, path, ex.Message);
                _failureReported = true;
            }
        }
    }

    private static async Task<bool> WaitAsync(PeriodicTimer timer, CancellationToken stoppingToken)
    {
        try
        {
            return await timer.WaitForNextTickAsync(stoppingToken);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = AgentEventIds.StatusFileFailed, Level = LogLevel.Warning, Message = "Could not write the status file {Path}: {Reason}")]
        public static partial void StatusFailed(ILogger logger, string path, string reason);
    }
}
