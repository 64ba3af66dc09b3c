using System.Diagnostics;
using System.Net.Sockets;
using Azure;
using Azure.Data.Tables;
using Fabric.Silo.Diagnostics;

namespace Fabric.Silo.Hosting;

/// <summary>
/// Cluster mode's start-up check of the table endpoint, run before the silo starts: it creates the
/// membership table (what Orleans' clustering provider does first) with a short budget and turns any
/// failure into one <see cref="FabricStorageUnavailableException"/> naming the setting and the endpoint.
/// </summary>
/// <remarks>
/// Orleans' Azure Table providers alone, measured against a closed port, give up only after their
/// client's retries (8 s with Fabric's retry settings, 32 s with Orleans' defaults; 45 s against an
/// endpoint that accepts connections but never answers), and then abort the process (exit code 134)
/// with an AggregateException and some 1,300 lines of stack traces that name neither the setting nor
/// the table endpoint. A refused key is quicker (2 s) but equally unclear: "Service request failed.
/// Status: 403 (Forbidden)" and the service's XML.
/// </remarks>
internal static partial class TableStoragePreflight
{
    /// <summary>
    /// Creates <see cref="FabricStorageSettings.TableName"/> if it does not exist, within
    /// <see cref="FabricStorageSettings.InitializationTimeout"/> (two quick retries).
    /// </summary>
    /// <exception cref="FabricStorageUnavailableException">The endpoint did not answer, or refused the request.</exception>
    public static async Task CheckAsync(FabricStorageSettings settings, ILogger logger, CancellationToken cancellationToken)
    {
        var budget = settings.InitializationTimeout;
        var networkTimeout = budget < settings.NetworkTimeout ? budget : settings.NetworkTimeout;
        var client = new TableServiceClient(settings.ConnectionString, FabricStorageSettings.CreateClientOptions(maxRetries: 2, networkTimeout));
        var operation = $"creating table '{settings.TableName}'";
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(budget);
        var clock = Stopwatch.StartNew();
        try
        {
            await client.CreateTableIfNotExistsAsync(settings.TableName, timeout.Token).ConfigureAwait(false);
        }
        catch (Exception exception) when (!cancellationToken.IsCancellationRequested && IsStorageFailure(exception))
        {
            throw new FabricStorageUnavailableException(
                FabricStorageSettings.ConnectionStringKey,
                client.Uri,
                DescribeFailure(exception, budget),
                operation,
                exception);
        }

        LogReachable(logger, client.Uri, settings.TableName, clock.ElapsedMilliseconds);
    }

    private static bool IsStorageFailure(Exception exception) =>
        exception is RequestFailedException or OperationCanceledException or AggregateException or HttpRequestException or SocketException or TimeoutException;

    /// <summary>A short, human description of why a table call failed, e.g. "connection refused".</summary>
    internal static string DescribeFailure(Exception exception, TimeSpan budget)
    {
        for (Exception? current = exception; current is not null; current = Next(current))
        {
            switch (current)
            {
                case SocketException socket:
                    return socket.SocketErrorCode switch
                    {
                        SocketError.ConnectionRefused => "connection refused",
                        SocketError.HostNotFound or SocketError.NoData or SocketError.TryAgain => "host name not found",
                        SocketError.TimedOut => "connection timed out",
                        SocketError.NetworkUnreachable or SocketError.HostUnreachable => "network unreachable",
                        _ => $"socket error {socket.SocketErrorCode}",
                    };
                case RequestFailedException { Status: 401 or 403 } denied:
                    return $"{Status(denied)}: the account name or key in the connection string was refused";
                case RequestFailedException { Status: > 0 } failed:
                    return $"{Status(failed)}: the endpoint answered but not as a table service would";
                case OperationCanceledException or TimeoutException:
                    return $"no answer within {budget.TotalSeconds:0.#} s";
            }
        }

        return exception.GetBaseException().Message;
    }

    private static string Status(RequestFailedException failure) =>
        string.IsNullOrEmpty(failure.ErrorCode) ? $"HTTP {failure.Status}" : $"HTTP {failure.Status} {failure.ErrorCode}";

    // The SDK's retries end in an AggregateException of every attempt's failure; the last one says most.
    private static Exception? Next(Exception exception) =>
        exception is AggregateException { InnerExceptions.Count: > 0 } aggregate ? aggregate.InnerExceptions[^1] : exception.InnerException;

    [LoggerMessage(EventId = SiloEventIds.TableStorageAnswered, Level = LogLevel.Information, Message = "Table storage at {Endpoint} answered (table '{TableName}') in {ElapsedMilliseconds} ms")]
    private static partial void LogReachable(ILogger logger, Uri endpoint, string tableName, long elapsedMilliseconds);
}
