using System.Net.Sockets;
using Azure;
using Azure.Core;
using Azure.Data.Tables;

namespace Fabric.Providers.AzureTables;

/// <summary>Creates table clients with Fabric's retry policies and turns start-up failures into clear errors.</summary>
internal static class FabricTableClients
{
    /// <summary>A client for normal operation: the configured retries and network timeout.</summary>
    public static TableServiceClient CreateServiceClient(FabricTableOptionsBase options) =>
        Create(options, options.MaxRetries, options.NetworkTimeout);

    /// <summary>
    /// A client for start-up: two quick retries and a network timeout no longer than the whole
    /// initialization budget, so a wrong endpoint fails in seconds rather than after minutes of backoff.
    /// </summary>
    public static TableServiceClient CreateInitializationClient(FabricTableOptionsBase options)
    {
        var timeout = options.InitializationTimeout < options.NetworkTimeout ? options.InitializationTimeout : options.NetworkTimeout;
        return Create(options, maxRetries: 2, networkTimeout: timeout);
    }

    private static TableServiceClient Create(FabricTableOptionsBase options, int maxRetries, TimeSpan networkTimeout)
    {
        var clientOptions = new TableClientOptions();
        clientOptions.Retry.Mode = RetryMode.Exponential;
        clientOptions.Retry.MaxRetries = maxRetries;
        clientOptions.Retry.Delay = TimeSpan.FromMilliseconds(200);
        clientOptions.Retry.MaxDelay = TimeSpan.FromSeconds(2);
        clientOptions.Retry.NetworkTimeout = networkTimeout;
        return new TableServiceClient(options.ConnectionString, clientOptions);
    }

    /// <summary>
    /// Creates <paramref name="tableName"/> if it does not exist, within the initialization budget;
    /// any failure becomes a <see cref="FabricStorageUnavailableException"/> naming the setting.
    /// </summary>
    public static async Task<TableClient> CreateTableIfNotExistsAsync(FabricTableOptionsBase options, string tableName, CancellationToken cancellationToken)
    {
        var initClient = CreateInitializationClient(options);
        var operation = $"creating table '{tableName}'";
        using var budget = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        budget.CancelAfter(options.InitializationTimeout);
        try
        {
            await initClient.CreateTableIfNotExistsAsync(tableName, budget.Token).ConfigureAwait(false);
        }
        catch (Exception exception) when (!cancellationToken.IsCancellationRequested && IsStorageFailure(exception))
        {
            throw new FabricStorageUnavailableException(
                options.ConnectionStringSettingName,
                initClient.Uri,
                DescribeFailure(exception, options.InitializationTimeout),
                operation,
                exception);
        }

        return CreateServiceClient(options).GetTableClient(tableName);
    }

    private static bool IsStorageFailure(Exception exception) =>
        exception is RequestFailedException or OperationCanceledException or AggregateException or HttpRequestException or SocketException or TimeoutException;

    /// <summary>A short, human description of why a table call failed, e.g. "connection refused".</summary>
    public static string DescribeFailure(Exception exception, TimeSpan budget)
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
                    return $"HTTP {denied.Status} {denied.ErrorCode}: the account name or key in the connection string was refused";
                case RequestFailedException { Status: > 0 } failed:
                    return $"HTTP {failed.Status} {failed.ErrorCode}: the endpoint answered but not as a table service would";
                case OperationCanceledException or TimeoutException:
                    return $"no answer within {budget.TotalSeconds:0.#} s";
            }
        }

        return exception.GetBaseException().Message;
    }

    private static Exception? Next(Exception exception) =>
        exception is AggregateException { InnerExceptions.Count: > 0 } aggregate ? aggregate.InnerExceptions[^1] : exception.InnerException;
}
