namespace Fabric.Page.Tests;

/// <summary>A real silo process on free loopback ports and a headless Chromium, started once for the collection and ended always.</summary>
public sealed class SiloPageFixture : IAsyncLifetime
{
    private SiloProcess? _silo;
    private HeadlessBrowser? _browser;

    /// <summary>The silo.</summary>
    public SiloProcess Silo => _silo ?? throw new InvalidOperationException("the silo is not started");

    /// <summary>The browser.</summary>
    public HeadlessBrowser Browser => _browser ?? throw new InvalidOperationException("the browser is not started");

    /// <summary>The silo's management API.</summary>
    public FabricApi Api => new(() => [Silo.Http]);

    public async Task InitializeAsync()
    {
        try
        {
            _silo = SiloProcess.Start("silo", new Dictionary<string, string> { ["Fabric:Cluster:ClusterId"] = $"page-{Guid.NewGuid():N}" });
            await _silo.WaitHealthyAsync(TimeSpan.FromSeconds(90));
            _browser = await HeadlessBrowser.LaunchAsync();
        }
        catch
        {
            await DisposeAsync();
            throw;
        }
    }

    public async Task DisposeAsync()
    {
        if (Interlocked.Exchange(ref _browser, null) is { } browser)
        {
            await browser.DisposeAsync();
        }

        if (Interlocked.Exchange(ref _silo, null) is { } silo)
        {
            await silo.DisposeAsync();
        }
    }
}

[CollectionDefinition(Name)]
public sealed class SiloPageCollection : ICollectionFixture<SiloPageFixture>
{
    public const string Name = "silo and browser";
}
