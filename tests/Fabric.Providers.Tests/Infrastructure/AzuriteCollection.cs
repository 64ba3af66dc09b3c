namespace Fabric.Providers.Tests.Infrastructure;

/// <summary>One Azurite (Fabric.Testing's <see cref="AzuriteFixture"/>) for every test of this assembly that needs storage.</summary>
[CollectionDefinition(Name)]
public sealed class AzuriteCollection : ICollectionFixture<AzuriteFixture>
{
    public const string Name = "Azurite";
}
