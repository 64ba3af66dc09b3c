using Xunit;

namespace Fabric.Testing;

/// <summary>
/// One Azurite for a test collection (xunit fixture): started once on a free loopback port, in
/// memory, and killed when the collection ends or when starting it fails. Each test assembly
/// declares the collection (<c>[CollectionDefinition]</c> must live in the assembly of its tests).
/// </summary>
public sealed class AzuriteFixture : IAsyncLifetime
{
    /// <inheritdoc cref="Azurite.AccountName"/>
    public const string AccountName = Azurite.AccountName;

    /// <inheritdoc cref="Azurite.AccountKey"/>
    public const string AccountKey = Azurite.AccountKey;

    private Azurite? _azurite;

    /// <summary>The running Azurite (after <see cref="InitializeAsync"/>).</summary>
    public Azurite Azurite => _azurite ?? throw new InvalidOperationException("Azurite is not started");

    /// <summary>The table service's port on 127.0.0.1.</summary>
    public int Port => Azurite.Port;

    /// <summary>The development account's connection string on this instance.</summary>
    public string ConnectionString => Azurite.ConnectionString;

    /// <inheritdoc cref="Azurite.DevelopmentConnectionString"/>
    public static string DevelopmentConnectionString(int port) => Azurite.DevelopmentConnectionString(port);

    /// <summary>A loopback TCP port nothing listens on (for a closed endpoint).</summary>
    public static int FreeLoopbackPort() => FreePorts.Tcp();

    /// <summary>Starts Azurite and waits until a table call succeeds.</summary>
    public async Task InitializeAsync() => _azurite = await Azurite.StartAsync();

    /// <summary>Kills Azurite.</summary>
    public async Task DisposeAsync()
    {
        if (Interlocked.Exchange(ref _azurite, null) is { } azurite)
        {
            await azurite.DisposeAsync();
        }
    }
}
