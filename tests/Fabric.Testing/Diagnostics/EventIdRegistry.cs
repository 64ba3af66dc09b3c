using System.Reflection;
using Microsoft.Extensions.Logging;

namespace Fabric.Testing;

/// <summary>
/// Checks an assembly's log event ids against its registry (a static class of <c>int</c>
/// constants, such as Kestrel's <c>SocketsLog</c>): operators alert on ids, so every
/// <c>[LoggerMessage]</c> id must be unique, inside the assembly's range and listed, and every
/// listed id logged by exactly one message.
/// </summary>
public static class EventIdRegistry
{
    /// <summary>Every <c>[LoggerMessage]</c> of <paramref name="assembly"/>: its event id and the method that logs it.</summary>
    public static IReadOnlyList<(int EventId, string Method)> LoggedIds(Assembly assembly)
        => [.. assembly.GetTypes()
            .SelectMany(t => t.GetMethods(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static | BindingFlags.Instance | BindingFlags.DeclaredOnly))
            .Select(m => (Method: m, Attribute: m.GetCustomAttribute<LoggerMessageAttribute>()))
            .Where(x => x.Attribute is not null)
            .Select(x => (x.Attribute!.EventId, $"{x.Method.DeclaringType!.FullName}.{x.Method.Name}"))];

    /// <summary>The <c>int</c> constants of <paramref name="registry"/>, by name.</summary>
    public static IReadOnlyDictionary<string, int> ListedIds(Type registry)
        => registry.GetFields(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static)
            .Where(f => f.IsLiteral && f.FieldType == typeof(int))
            .ToDictionary(f => f.Name, f => (int)f.GetRawConstantValue()!);

    /// <summary>
    /// What is wrong with the ids of <paramref name="assembly"/>: ids outside
    /// <paramref name="first"/>..<paramref name="last"/>, ids logged by more than one message.
    /// Empty when nothing is. Throws when the assembly logs nothing at all (the check would be empty).
    /// </summary>
    public static IReadOnlyList<string> RangeAndUniquenessProblems(Assembly assembly, int first, int last)
    {
        var logged = LoggedIds(assembly);
        if (logged.Count == 0)
        {
            throw new InvalidOperationException($"{assembly.GetName().Name} has no [LoggerMessage] method: is the attribute still kept in metadata?");
        }

        return
        [
            .. logged.Where(m => m.EventId < first || m.EventId > last).Select(m => $"{m.EventId} ({m.Method}) is outside {first}..{last}"),
            .. logged.GroupBy(m => m.EventId).Where(g => g.Count() > 1).Select(g => $"{g.Key} is used by {string.Join(", ", g.Select(m => m.Method))}"),
        ];
    }

    /// <summary>
    /// What does not match between <paramref name="assembly"/>'s logged ids and <paramref name="registry"/>:
    /// an id logged but not listed, a listed id logged by no message or by several, two names for one id.
    /// Empty when they match.
    /// </summary>
    public static IReadOnlyList<string> RegistryProblems(Assembly assembly, Type registry)
    {
        var logged = LoggedIds(assembly);
        var listed = ListedIds(registry);
        return
        [
            .. logged.Where(m => !listed.Values.Contains(m.EventId)).Select(m => $"{m.EventId} ({m.Method}) is not listed in {registry.Name}"),
            .. listed.Where(kv => logged.Count(m => m.EventId == kv.Value) != 1).Select(kv => $"{registry.Name}.{kv.Key} ({kv.Value}) is logged by {logged.Count(m => m.EventId == kv.Value)} messages"),
            .. listed.GroupBy(kv => kv.Value).Where(g => g.Count() > 1).Select(g => $"{g.Key} has several names in {registry.Name}: {string.Join(", ", g.Select(kv => kv.Key))}"),
        ];
    }
}
