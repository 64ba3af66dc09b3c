using System.Text.Json;
using Fabric.Silo.Api;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging.Abstractions;
using Orleans.Storage;

namespace Fabric.Silo.Tests;

/// <summary>What a management call answers when a grain call fails: by the exception's type, never its name.</summary>
[Trait("Category", "Unit")]
public sealed class ProblemMappingTests
{
    [Fact]
    public async Task A_storage_write_conflict_is_a_503_that_says_nothing_changed()
    {
        var (status, problem) = await MapAsync(new InconsistentStateException("ETag mismatch writing switch/sw1.", "\"2\"", "\"1\""));

        Assert.Equal(StatusCodes.Status503ServiceUnavailable, status);
        Assert.Contains("Nothing was changed", problem.GetProperty("detail").GetString());
    }

    [Fact]
    public async Task A_storage_write_conflict_inside_another_exception_is_a_503()
    {
        var (status, _) = await MapAsync(new OrleansException("The grain call failed.", new InconsistentStateException("ETag mismatch.")));

        Assert.Equal(StatusCodes.Status503ServiceUnavailable, status);
    }

    [Fact]
    public async Task An_exception_whose_name_merely_mentions_inconsistent_state_is_a_500()
    {
        var (status, problem) = await MapAsync(new InconsistentStateOfMindException());

        Assert.Equal(StatusCodes.Status500InternalServerError, status);
        Assert.Equal("Internal error", problem.GetProperty("title").GetString());
    }

    private static async Task<(int Status, JsonElement Problem)> MapAsync(Exception thrown)
    {
        var context = new DefaultHttpContext();
        context.Request.Path = "/api/switches/sw1";
        context.Response.Body = new MemoryStream();
        var mapping = new ProblemMapping(_ => throw thrown, NullLogger<ProblemMapping>.Instance);

        await mapping.InvokeAsync(context);

        context.Response.Body.Position = 0;
        using var document = await JsonDocument.ParseAsync(context.Response.Body);
        return (context.Response.StatusCode, document.RootElement.Clone());
    }

    /// <summary>Not a storage error, whatever its name says.</summary>
    private sealed class InconsistentStateOfMindException() : Exception("A bug, not an outage.");
}
