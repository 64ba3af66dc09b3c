using System.Reflection;
using Fabric.Grains.Diagnostics;
using Fabric.Grains.Hosting;
using Microsoft.Extensions.Logging;

namespace Fabric.Grains.Tests;

/// <summary>
/// Operators alert on event ids, so every id Fabric.Grains logs with is unique, inside the
/// assembly's range 1000–1999, and listed in <see cref="GrainsEventIds"/>.
/// </summary>
[Trait("Category", "Unit")]
public sealed class EventIdTests
{
    private const int First = 1000;
    private const int Last = 1999;

    private static readonly Assembly Grains = typeof(FabricGrainsExtensions).Assembly;

    [Fact]
    public void Every_logged_event_id_is_unique_and_inside_the_assembly_range()
    {
        var messages = LoggerMessages(Grains);

        Assert.NotEmpty(messages);
        var outside = messages.Where(m => m.EventId is < First or > Last).Select(m => $"{m.EventId} ({m.Method})").ToList();
        Assert.True(outside.Count == 0, $"Event ids outside {First}..{Last}: {string.Join("; ", outside)}");
        var duplicates = messages.GroupBy(m => m.EventId).Where(g => g.Count() > 1)
            .Select(g => $"{g.Key} ({string.Join(", ", g.Select(m => m.Method))})").ToList();
        Assert.True(duplicates.Count == 0, $"Event ids used more than once: {string.Join("; ", duplicates)}");
    }

    [Fact]
    public void Every_logged_event_id_is_listed_in_the_registry_and_every_listed_id_is_logged()
    {
        var logged = LoggerMessages(Grains).Select(m => m.EventId).Order().ToArray();
        var listed = typeof(GrainsEventIds).GetFields(BindingFlags.Public | BindingFlags.Static)
            .Where(f => f.IsLiteral && f.FieldType == typeof(int))
            .Select(f => (int)f.GetRawConstantValue()!)
            .Order()
            .ToArray();

        Assert.Equal(listed, logged);
    }

    private static List<(int EventId, string Method)> LoggerMessages(Assembly assembly)
        => [.. assembly.GetTypes()
            .SelectMany(t => t.GetMethods(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static | BindingFlags.Instance | BindingFlags.DeclaredOnly))
            .Select(m => (Method: m, Attribute: m.GetCustomAttribute<LoggerMessageAttribute>()))
            .Where(x => x.Attribute is not null)
            .Select(x => (x.Attribute!.EventId, $"{x.Method.DeclaringType!.FullName}.{x.Method.Name}"))];
}
