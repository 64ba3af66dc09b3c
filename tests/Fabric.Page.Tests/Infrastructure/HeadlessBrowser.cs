using System.Collections.Concurrent;
using PuppeteerSharp;

namespace Fabric.Page.Tests;

/// <summary>
/// Debian's Chromium (<c>/usr/bin/chromium</c>, headless, <c>--no-sandbox</c> as root) driven by
/// PuppeteerSharp: started once per fixture, never downloaded, ended by its PID on dispose and when
/// the test host exits.
/// </summary>
public sealed class HeadlessBrowser : IAsyncDisposable
{
    /// <summary>The browser every test uses: Debian's package, not a downloaded build.</summary>
    public const string ExecutablePath = "/usr/bin/chromium";

    private readonly IBrowser _browser;
    private readonly int _pid;
    private readonly DateTime _started;

    private HeadlessBrowser(IBrowser browser)
    {
        _browser = browser;
        _pid = browser.Process?.Id ?? 0;
        _started = browser.Process?.StartTime ?? default;
        AppDomain.CurrentDomain.ProcessExit += KillOnExit;
    }

    /// <summary>Launches Chromium headless with its own throwaway profile.</summary>
    public static async Task<HeadlessBrowser> LaunchAsync()
    {
        if (!File.Exists(ExecutablePath))
        {
            throw new InvalidOperationException($"{ExecutablePath} is missing: apt-get install chromium (deploy/prerequisites.sh)");
        }

        var browser = await Puppeteer.LaunchAsync(new LaunchOptions
        {
            ExecutablePath = ExecutablePath,
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run", "--disable-background-networking", "--disable-component-update"],
            Timeout = 60_000,
        });
        return new HeadlessBrowser(browser);
    }

    /// <summary>A new tab of <paramref name="width"/> × <paramref name="height"/> CSS pixels that records every request it makes.</summary>
    public async Task<BrowserTab> NewTabAsync(int width = 1400, int height = 1000)
    {
        var page = await _browser.NewPageAsync();
        await page.SetViewportAsync(new ViewPortOptions { Width = width, Height = height });
        page.DefaultTimeout = 30_000;
        return new BrowserTab(page);
    }

    /// <summary>Closes the browser; kills it by PID if it does not close within 10 s.</summary>
    public async ValueTask DisposeAsync()
    {
        AppDomain.CurrentDomain.ProcessExit -= KillOnExit;
        try
        {
            await _browser.CloseAsync().WaitAsync(TimeSpan.FromSeconds(10));
        }
        catch (Exception ex) when (ex is TimeoutException or PuppeteerException)
        {
        }

        KillOnExit(null, EventArgs.Empty);
        await _browser.DisposeAsync();
    }

    private void KillOnExit(object? sender, EventArgs e)
    {
        if (_pid <= 0)
        {
            return;
        }

        try
        {
            // By PID, and only the process we started (a PID is reused once it has ended).
            using var process = System.Diagnostics.Process.GetProcessById(_pid);
            if (process.StartTime == _started)
            {
                process.Kill(entireProcessTree: true);
            }
        }
        catch (Exception ex) when (ex is ArgumentException or InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            // Gone already.
        }
    }
}

/// <summary>One tab: the page, every URL it requested, every request that failed and what the console said.</summary>
public sealed class BrowserTab : IAsyncDisposable
{
    private readonly ConcurrentQueue<string> _requests = new();
    private readonly ConcurrentQueue<string> _failed = new();
    private readonly ConcurrentQueue<string> _console = new();

    internal BrowserTab(IPage page)
    {
        Page = page;
        page.Request += (_, e) => _requests.Enqueue(e.Request.Url);
        page.RequestFailed += (_, e) => _failed.Enqueue($"{e.Request.Url} ({e.Request.FailureText})");
        page.Console += (_, e) => _console.Enqueue($"{e.Message.Type}: {e.Message.Text}");
        page.PageError += (_, e) => _console.Enqueue($"page error: {e.Message}");
    }

    /// <summary>The page.</summary>
    public IPage Page { get; }

    /// <summary>Every URL the tab requested, in order.</summary>
    public IReadOnlyList<string> Requests => [.. _requests];

    /// <summary>Requests that failed, with why.</summary>
    public IReadOnlyList<string> Failed => [.. _failed];

    /// <summary>Console messages and page errors, for failure messages.</summary>
    public IReadOnlyList<string> ConsoleLines => [.. _console];

    /// <summary>Requests that left loopback: anything but http(s) to 127.0.0.0/8, localhost or [::1], data: and blob:.</summary>
    public IReadOnlyList<string> RequestsOffLoopback => [.. _requests.Where(url => !IsLocal(url))];

    /// <summary>Opens <paramref name="url"/> and waits until its network is idle.</summary>
    public Task GoToAsync(Uri url) => Page.GoToAsync(url.ToString(), new NavigationOptions { WaitUntil = [WaitUntilNavigation.Networkidle2], Timeout = 60_000 });

    /// <summary>
    /// Waits until the JavaScript expression <paramref name="predicate"/> is truthy in the page,
    /// polling every 100 ms; on time-out says <paramref name="what"/> and what the page showed.
    /// </summary>
    public async Task WaitUntilAsync(string predicate, TimeSpan timeout, string what)
    {
        try
        {
            await Page.WaitForFunctionAsync($"() => {{ try {{ return !!({predicate}); }} catch {{ return false; }} }}",
                new WaitForFunctionOptions { Timeout = (int)timeout.TotalMilliseconds, PollingInterval = 100 });
        }
        catch (WaitTaskTimeoutException ex)
        {
            string text = await TextAsync("document.body");
            string shot = Screenshots.Path($"timeout-{DateTime.UtcNow:HHmmss.fff}");
            await ScreenshotAsync(shot);
            throw new TimeoutException($"the page did not show {what} within {timeout.TotalSeconds:0} s (screenshot {shot}); it shows:\n{Truncate(text, 4000)}\nconsole:\n{string.Join('\n', ConsoleLines)}", ex);
        }
    }

    /// <summary>The text a person sees in the element <paramref name="element"/> (a JavaScript expression), or "" if there is none.</summary>
    public async Task<string> TextAsync(string element)
        => await Page.EvaluateExpressionAsync<string>($"(() => {{ const e = {element}; return e ? e.innerText : ''; }})()") ?? string.Empty;

    /// <summary>A PNG of the whole page (or, with <paramref name="fullPage"/> false, of the viewport) at <paramref name="path"/>; its directory is created.</summary>
    public async Task ScreenshotAsync(string path, bool fullPage = true)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        await Page.ScreenshotAsync(path, new ScreenshotOptions { FullPage = fullPage, Type = ScreenshotType.Png });
    }

    /// <summary>Closes the tab.</summary>
    public async ValueTask DisposeAsync()
    {
        try
        {
            await Page.CloseAsync();
        }
        catch (PuppeteerException)
        {
        }
    }

    private static bool IsLocal(string url)
    {
        if (url.StartsWith("data:", StringComparison.Ordinal) || url.StartsWith("blob:", StringComparison.Ordinal) || url == "about:blank")
        {
            return true;
        }

        return Uri.TryCreate(url, UriKind.Absolute, out var uri)
            && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps)
            && (uri.IsLoopback || uri.Host == "localhost");
    }

    private static string Truncate(string text, int max) => text.Length <= max ? text : text[..max] + "…";
}
