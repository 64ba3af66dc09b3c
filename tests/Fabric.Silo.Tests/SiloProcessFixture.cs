namespace Fabric.Silo.Tests;

/// <summary>
/// A real silo process (the built Fabric.Silo.dll) on free loopback ports, started once for the
/// collection and killed on dispose, also when a test fails.
/// </summary>
public sealed class SiloProcessFixture : IAsyncLifetime
{
    private SiloProcess? _silo;

    public SiloProcess Silo => _silo ?? throw new InvalidOperationException("the silo is not started");

    public HttpClient Http => Silo.Http;

    public Uri BaseAddress => Silo.BaseAddress;

    public async Task InitializeAsync()
    {
        _silo = SiloProcess.Start("silo", new Dictionary<string, string> { ["Fabric:Cluster:ClusterId"] = $"silo-tests-{Guid.NewGuid():N}" });
        try
        {
            await _silo.WaitHealthyAsync(TimeSpan.FromSeconds(90));
        }
        catch
        {
            await DisposeAsync();
            throw;
        }
    }

    public async Task DisposeAsync()
    {
        if (Interlocked.Exchange(ref _silo, null) is { } silo)
        {
            await silo.DisposeAsync();
        }
    }
}

[CollectionDefinition(Name)]
public sealed class SiloCollection : ICollectionFixture<SiloProcessFixture>
{
    public const string Name = "silo process";
}
