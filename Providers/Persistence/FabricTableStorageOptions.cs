using Orleans.Storage;

namespace Fabric.Providers.AzureTables;

/// <summary>Settings of one named Fabric grain storage provider.</summary>
public sealed class FabricTableStorageOptions : FabricTableOptionsBase, IStorageProviderSerializerOptions
{
    /// <summary>
    /// Table holding this provider's grain state. Default: derived from the provider name
    /// (see <see cref="DeriveTableName"/>), so each provider has its own table.
    /// </summary>
    public string? TableName { get; set; }

    /// <summary>Serializer for grain state. Default: Orleans' binary serializer (<see cref="OrleansGrainStorageSerializer"/>).</summary>
    public IGrainStorageSerializer GrainStorageSerializer { get; set; } = null!;

    /// <summary>
    /// "Grains" + the provider name's letters and digits with the first one upper-cased ("fabric" →
    /// "GrainsFabric"). If the name has other characters, or is long, a hash of the full name is
    /// appended so different provider names never share a table.
    /// </summary>
    public static string DeriveTableName(string providerName)
    {
        ArgumentNullException.ThrowIfNull(providerName);
        var alphanumeric = new string(providerName.Where(char.IsAsciiLetterOrDigit).ToArray());
        if (alphanumeric.Length > 0)
        {
            alphanumeric = char.ToUpperInvariant(alphanumeric[0]) + alphanumeric[1..];
        }

        var name = "Grains" + alphanumeric;
        if (alphanumeric.Length == providerName.Length && name.Length <= 63)
        {
            return name;
        }

        var hash = Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(providerName)))[..8];
        return name[..Math.Min(name.Length, 63 - hash.Length)] + hash;
    }
}
