using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;

namespace Fabric.Providers.AzureTables;

/// <summary>
/// Turns any string (grain ids, grain types, cluster ids) into a valid Table storage key.
/// </summary>
/// <remarks>
/// Table storage forbids '/', '\', '#', '?' and the control characters U+0000-U+001F and U+007F-U+009F
/// in PartitionKey and RowKey, and limits each key to 1 KiB. The encoding keeps letters, digits and a
/// few harmless punctuation marks as they are and writes every other UTF-16 code unit as '~' followed
/// by four hex digits, so it is injective (also for lone surrogates) and the result is plain ASCII.
/// A result longer than <see cref="MaxKeyLength"/> keeps a readable prefix and ends in "~~" and the
/// SHA-256 of the original string; "~~" never appears in an unshortened key, so the two forms cannot
/// collide with each other.
/// </remarks>
public static class TableKeyEncoding
{
    /// <summary>Longest key produced, in characters. ASCII only, so also in bytes: half the service's 1 KiB.</summary>
    public const int MaxKeyLength = 512;

    private const char Escape = '~';
    private const int HashSuffixLength = 2 + 64;

    /// <summary>Encodes <paramref name="value"/> as a valid, unique PartitionKey or RowKey.</summary>
    public static string Encode(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        var builder = new StringBuilder(value.Length + 8);
        foreach (var c in value)
        {
            if (IsKept(c))
            {
                builder.Append(c);
            }
            else
            {
                builder.Append(Escape).Append(((int)c).ToString("X4", System.Globalization.CultureInfo.InvariantCulture));
            }
        }

        if (builder.Length <= MaxKeyLength)
        {
            return builder.ToString();
        }

        // Shorten: keep a prefix for people reading the table, cut before a partial escape sequence,
        // and make it unique with a hash of the whole original string (its UTF-16 code units, so lone
        // surrogates hash distinctly too).
        var prefixLength = MaxKeyLength - HashSuffixLength;
        var lastEscape = builder.ToString(0, prefixLength).LastIndexOf(Escape);
        if (lastEscape >= 0 && lastEscape + 5 > prefixLength)
        {
            prefixLength = lastEscape;
        }

        var hash = SHA256.HashData(MemoryMarshal.AsBytes(value.AsSpan()));
        return string.Concat(builder.ToString(0, prefixLength), "~~", Convert.ToHexString(hash));
    }

    /// <summary>True if <paramref name="key"/> contains nothing Table storage rejects and fits its size limit.</summary>
    public static bool IsValidKey(string key)
    {
        if (key.Length > MaxKeyLength * 2 || Encoding.UTF8.GetByteCount(key) > 1024)
        {
            return false;
        }

        foreach (var c in key)
        {
            if (c is '/' or '\\' or '#' or '?' || c <= '\u001F' || c is >= '\u007F' and <= '\u009F')
            {
                return false;
            }
        }

        return true;
    }

    private static bool IsKept(char c) =>
        c is (>= 'a' and <= 'z') or (>= 'A' and <= 'Z') or (>= '0' and <= '9')
            or '-' or '_' or '.' or ':' or '=' or '@' or '+' or ',';
}
