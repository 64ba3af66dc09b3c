namespace Fabric.Lab.Tests;

/// <summary>
/// The silo's and the agent's build outputs, copied once per test run into a private directory
/// and started from there. Each process runs from its own project's output (its deps.json and
/// runtimeconfig.json describe it; the copies next to the tests lack its framework references),
/// and the private copy keeps a lab running while someone rebuilds those projects in the same tree.
/// </summary>
internal static class BuiltOutputs
{
    private static readonly Lock Gate = new();
    private static readonly Dictionary<string, string> Copies = new(StringComparer.Ordinal);
    private static readonly Lazy<string> Root = new(() =>
    {
        string root = Directory.CreateTempSubdirectory("fabric-lab-bin-").FullName;
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try
            {
                Directory.Delete(root, recursive: true);
            }
            catch (IOException)
            {
            }
        };
        return root;
    });

    /// <summary>The path of <paramref name="dll"/> in a private copy of <paramref name="project"/>'s output.</summary>
    public static string Dll(string repoRoot, string project, string dll)
    {
        lock (Gate)
        {
            if (Copies.TryGetValue(project, out string? copied))
            {
                return Path.Combine(copied, dll);
            }

            string configuration = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar)).Parent!.Name;
            // FABRIC_LAB_BUILD_ROOT runs the lab on another tree's build (a mutant, to see a test fail).
            string root = Environment.GetEnvironmentVariable("FABRIC_LAB_BUILD_ROOT") is { Length: > 0 } other ? other : repoRoot;
            string source = Path.Combine(root, project, "bin", configuration, "net10.0");
            string target = Path.Combine(Root.Value, project);
            string stem = Path.GetFileNameWithoutExtension(dll);
            string[] required = [dll, $"{stem}.deps.json", $"{stem}.runtimeconfig.json"];
            var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(3);
            for (int attempt = 1; ; attempt++)
            {
                // Another build may be writing the directory: wait for a complete, settled output.
                bool complete = required.All(f => File.Exists(Path.Combine(source, f)))
                    && DateTime.UtcNow - File.GetLastWriteTimeUtc(Path.Combine(source, dll)) > TimeSpan.FromSeconds(2);
                if (complete)
                {
                    try
                    {
                        if (Directory.Exists(target))
                        {
                            Directory.Delete(target, recursive: true);
                        }

                        CopyDirectory(source, target);
                        if (required.All(f => File.Exists(Path.Combine(target, f))))
                        {
                            Copies[project] = target;
                            return Path.Combine(target, dll);
                        }
                    }
                    catch (IOException) when (DateTime.UtcNow < deadline)
                    {
                    }
                }

                if (DateTime.UtcNow >= deadline)
                {
                    throw new FileNotFoundException($"{dll} is not built (completely) at {source}; run: dotnet build tests/Fabric.Lab.Tests");
                }

                Thread.Sleep(500);
            }
        }
    }

    private static void CopyDirectory(string source, string target)
    {
        Directory.CreateDirectory(target);
        foreach (string file in Directory.GetFiles(source))
        {
            File.Copy(file, Path.Combine(target, Path.GetFileName(file)), overwrite: true);
        }

        foreach (string directory in Directory.GetDirectories(source))
        {
            CopyDirectory(directory, Path.Combine(target, Path.GetFileName(directory)));
        }
    }
}
