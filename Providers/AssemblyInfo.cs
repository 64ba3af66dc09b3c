namespace Fabric.Providers.AzureTables;
