using Orleans;
using Orleans.Runtime;

namespace Fabric.Providers.AzureTables;

/// <summary>Checks a grain storage provider's settings when the silo starts.</summary>
public sealed class FabricTableStorageOptionsValidator(FabricTableStorageOptions options, string providerName) : IConfigurationValidator
{
    public void ValidateConfiguration()
    {
        var optionsName = $"{nameof(FabricTableStorageOptions)} '{providerName}'";
        FabricTableOptionsValidation.ValidateCommon(options, optionsName);

        var tableName = options.TableName ?? FabricTableStorageOptions.DeriveTableName(providerName);
        if (TableNames.Validate(tableName) is { } problem)
        {
            throw new OrleansConfigurationException($"{optionsName}.{nameof(options.TableName)}: {problem}.");
        }

        if (options.GrainStorageSerializer is null)
        {
            throw new OrleansConfigurationException($"{optionsName}: no grain storage serializer is configured or registered.");
        }
    }
}
