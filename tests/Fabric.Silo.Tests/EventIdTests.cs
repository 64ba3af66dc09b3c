using System.Reflection;
using Fabric.Silo.Diagnostics;
using Microsoft.Extensions.Logging;

namespace Fabric.Silo.Tests;

/// <summary>
/// Operators alert on event ids, so every id Fabric.Silo logs with is unique, inside the assembly's
/// range 2000–2999, and listed in <see cref="SiloEventIds"/>.
/// </summary>
[Trait("Category", "Unit")]
public sealed class EventIdTests
{
    private const int First = 2000;
    private const int Last = 2999;

    private static readonly Assembly Silo = typeof(SiloEventIds).Assembly;

    [Fact]
    public void Every_logged_event_id_is_unique_and_inside_the_assembly_range()
    {
        var messages = LoggerMessages(Silo);

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
        var logged = LoggerMessages(Silo).Select(m => m.EventId).Order().ToArray();
        var listed = typeof(SiloEventIds).GetFields(BindingFlags.Public | BindingFlags.Static)
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
