using System.Text.RegularExpressions;

namespace Fabric.Providers.AzureTables;

/// <summary>Table storage's rules for table names.</summary>
internal static partial class TableNames
{
    /// <summary>
    /// Returns null when <paramref name="name"/> is a valid table name, otherwise why not.
    /// Rules: 3-63 characters, ASCII letters and digits, starting with a letter, not "tables".
    /// </summary>
    public static string? Validate(string? name)
    {
        if (string.IsNullOrEmpty(name))
        {
            return "is empty";
        }

        if (!ValidName().IsMatch(name))
        {
            return $"'{name}' is not a valid table name (3-63 ASCII letters or digits, starting with a letter)";
        }

        if (string.Equals(name, "tables", StringComparison.OrdinalIgnoreCase))
        {
            return "'tables' is reserved by the table service";
        }

        return null;
    }

    [GeneratedRegex("^[A-Za-z][A-Za-z0-9]{2,62}$")]
    private static partial Regex ValidName();
}
