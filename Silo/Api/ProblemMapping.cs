using System.Text.Json;
using Fabric.Grains;
using Fabric.Silo.Diagnostics;
using Microsoft.AspNetCore.Mvc;
using Orleans.Storage;

namespace Fabric.Silo.Api;

/// <summary>
/// Maps what goes wrong in a management call to an RFC 7807 problem: our validation errors to
/// 400 naming the field, unknown names to 404, unreadable JSON to 400 naming the JSON path, and an
/// unreachable cluster or storage to 503. Nothing here changes state, so a failed call has none.
/// </summary>
internal sealed partial class ProblemMapping(RequestDelegate next, ILogger<ProblemMapping> logger)
{
    public async Task InvokeAsync(HttpContext context)
    {
        try
        {
            await next(context);
        }
        catch (FabricValidationException ex)
        {
            await WriteAsync(context, StatusCodes.Status400BadRequest, "Invalid request", ex.Message, ex.Field);
        }
        catch (FabricNotFoundException ex)
        {
            await WriteAsync(context, StatusCodes.Status404NotFound, $"Unknown {ex.Kind}", ex.Message, null);
        }
        catch (BadHttpRequestException ex) when (ex.InnerException is JsonException json)
        {
            string field = json.Path is { Length: > 2 } path ? path.TrimStart('$', '.') : "body";
            await WriteAsync(context, StatusCodes.Status400BadRequest, "Malformed JSON", $"The body is not valid JSON for this request at '{json.Path ?? "$"}': {FirstLine(json.Message)}", field);
        }
        catch (BadHttpRequestException ex)
        {
            await WriteAsync(context, ex.StatusCode, "Bad request", ex.Message, "body");
        }
        catch (AgentUnreachableException ex)
        {
            await WriteAsync(context, StatusCodes.Status503ServiceUnavailable, "Agent unreachable", ex.Message, null);
        }
        catch (Exception ex) when (IsUnavailable(ex))
        {
            LogUnavailable(logger, context.Request.Path, ex.Message);
            await WriteAsync(context, StatusCodes.Status503ServiceUnavailable, "Control plane unavailable", $"The request could not be completed: {FirstLine(ex.Message)} Nothing was changed; try again.", null);
        }
        catch (Exception ex) when (!context.RequestAborted.IsCancellationRequested)
        {
            LogFailed(logger, context.Request.Path, ex);
            await WriteAsync(context, StatusCodes.Status500InternalServerError, "Internal error", "The request failed inside the fabric; the silo log has the details.", null);
        }
    }

    /// <summary>
    /// The cluster did not answer in time or at all, or storage refused a write because another
    /// writer got there first (an ETag conflict, <see cref="InconsistentStateException"/>): the
    /// grain dropped its activation and the same call can succeed when tried again.
    /// </summary>
    private static bool IsUnavailable(Exception ex) => ex is TimeoutException or SiloUnavailableException or OrleansMessageRejectionException or InconsistentStateException
        || ex.InnerException is { } inner && IsUnavailable(inner);

    private static string FirstLine(string message) => message.Split('\n', 2)[0].Trim();

    private static Task WriteAsync(HttpContext context, int status, string title, string detail, string? field)
    {
        if (context.Response.HasStarted)
        {
            return Task.CompletedTask;
        }

        var problem = new ProblemDetails
        {
            Status = status,
            Title = title,
            Detail = detail,
            Instance = context.Request.Path,
            Type = $"https://httpstatuses.io/{status}",
        };
        if (field is not null)
        {
            problem.Extensions["field"] = field;
        }

        context.Response.Clear();
        context.Response.StatusCode = status;
        return context.Response.WriteAsJsonAsync(problem, (JsonSerializerOptions?)null, "application/problem+json");
    }

    [LoggerMessage(EventId = SiloEventIds.ManagementCallUnavailable, Level = LogLevel.Warning, Message = "Management call {Path} failed: control plane unavailable: {Reason}")]
    private static partial void LogUnavailable(ILogger logger, string path, string reason);

    [LoggerMessage(EventId = SiloEventIds.ManagementCallFailed, Level = LogLevel.Error, Message = "Management call {Path} failed")]
    private static partial void LogFailed(ILogger logger, string path, Exception exception);
}
