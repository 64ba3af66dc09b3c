namespace Fabric.Testing;

/// <summary>The repository the tests run from: found by walking up from the test assembly to <c>Fabric.sln</c>.</summary>
public static class Repository
{
    private static readonly Lazy<string> RootPath = new(() =>
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(System.IO.Path.Combine(dir.FullName, "Fabric.sln")))
            {
                return dir.FullName;
            }
        }

        throw new DirectoryNotFoundException($"Fabric.sln not found above {AppContext.BaseDirectory}");
    });

    /// <summary>The repository's root directory (the one holding Fabric.sln).</summary>
    public static string Root => RootPath.Value;

    /// <summary>A path below the root, e.g. <c>Path("deploy", "lab", "lab.sh")</c>.</summary>
    public static string Path(params string[] parts) => System.IO.Path.Combine([Root, .. parts]);

    /// <summary>The build configuration the tests run in ("Release" or "Debug"), from the test assembly's output path.</summary>
    public static string Configuration => new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(System.IO.Path.DirectorySeparatorChar)).Parent!.Name;
}
