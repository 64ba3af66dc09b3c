using System.Diagnostics.CodeAnalysis;

namespace Fabric.Grains;

/// <summary>
/// The one rule for names of switches, port groups, hosts, ports and uplinks: 1..64 characters of
/// <c>[A-Za-z0-9._-]</c>, compared ordinally (case-sensitive), so a name is safe in a URL path, a
/// grain key and a table row key. The grains refuse any other name with
/// <see cref="FabricValidationException"/> naming the field.
/// </summary>
public static class FabricNames
{
    /// <summary>The longest name, 64 characters.</summary>
    public const int MaxLength = 64;

    /// <summary>Whether <paramref name="name"/> follows the rule. Never throws.</summary>
    /// <param name="name">The name to check; null is not a name.</param>
    /// <returns>True for 1..64 characters of ASCII letters, digits, '.', '_' and '-'.</returns>
    public static bool IsValid([NotNullWhen(true)] string? name)
    {
        if (string.IsNullOrEmpty(name) || name.Length > MaxLength)
        {
            return false;
        }

        foreach (char c in name)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-'))
            {
                return false;
            }
        }

        return true;
    }
}
