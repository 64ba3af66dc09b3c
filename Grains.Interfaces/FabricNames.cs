using System.Diagnostics.CodeAnalysis;

namespace Fabric.Grains;

/// <summary>
/// The one rule for names of switches, port groups, hosts and ports: 1..64 characters of
/// <c>[A-Za-z0-9._-]</c>, so a name is safe in a URL path, a grain key and a table row key.
/// </summary>
public static class FabricNames
{
    public const int MaxLength = 64;

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
