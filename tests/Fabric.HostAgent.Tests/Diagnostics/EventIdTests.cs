using System.Reflection;
using Microsoft.Extensions.Logging;
using Fabric.HostAgent.Diagnostics;

namespace Fabric.HostAgent.Tests.Diagnostics;

/// <summary>Operators alert on log event ids: each agent message has its own, in the agent's range 3000–3999.</summary>
[Trait("Category", "Unit")]
public sealed class EventIdTests
{
    private static readonly Assembly Agent = typeof(AgentEventIds).Assembly;

    private static IEnumerable<(string Method, int Id)> LoggedIds()
        => Agent.GetTypes()
            .SelectMany(t => t.GetMethods(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static | BindingFlags.Instance | BindingFlags.DeclaredOnly))
            .Select(m => (Method: $"{m.DeclaringType!.FullName}.{m.Name}", Attribute: m.GetCustomAttribute<LoggerMessageAttribute>()))
            .Where(m => m.Attribute is not null)
            .Select(m => (m.Method, m.Attribute!.EventId));

    [Fact]
    public void Every_log_message_has_its_own_event_id_in_the_agent_range()
    {
        var logged = LoggedIds().ToList();

        Assert.True(logged.Count >= 10, $"found only {logged.Count} log messages: is the attribute still kept in metadata?");
        Assert.All(logged, m => Assert.InRange(m.Id, 3000, 3999));
        var shared = logged.GroupBy(m => m.Id).Where(g => g.Count() > 1).Select(g => $"{g.Key}: {string.Join(", ", g.Select(m => m.Method))}");
        Assert.Empty(shared);
    }

    [Fact]
    public void Every_id_of_the_registry_is_used_by_exactly_one_message()
    {
        var registry = typeof(AgentEventIds).GetFields(BindingFlags.Public | BindingFlags.Static).ToDictionary(f => f.Name, f => (int)f.GetRawConstantValue()!);
        var logged = LoggedIds().Select(m => m.Id).ToList();

        Assert.Equal(registry.Count, registry.Values.Distinct().Count());
        Assert.All(registry, kv => Assert.True(logged.Count(id => id == kv.Value) == 1, $"{kv.Key} ({kv.Value}) is logged {logged.Count(id => id == kv.Value)} times"));
        Assert.All(logged, id => Assert.Contains(id, registry.Values));
    }
}
