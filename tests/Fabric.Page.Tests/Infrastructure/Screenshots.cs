namespace Fabric.Page.Tests;

/// <summary>
/// Where screenshots go: the test output (<c>screenshots/</c> next to the test assembly), and, when
/// <c>FABRIC_UPDATE_DOCS_IMAGES=1</c>, the README's picture under <c>docs/images/</c> as well.
/// </summary>
public static class Screenshots
{
    /// <summary>The test output's screenshot of <paramref name="name"/> (a file name without extension).</summary>
    public static string Path(string name) => System.IO.Path.Combine(AppContext.BaseDirectory, "screenshots", name + ".png");

    /// <summary>Whether this run refreshes the README's pictures (<c>FABRIC_UPDATE_DOCS_IMAGES=1</c>).</summary>
    public static bool UpdateDocs => Environment.GetEnvironmentVariable("FABRIC_UPDATE_DOCS_IMAGES") == "1";

    /// <summary>A picture the README shows, <c>docs/images/{name}.png</c> in the repository.</summary>
    public static string DocsPath(string name) => Repository.Path("docs", "images", name + ".png");
}
