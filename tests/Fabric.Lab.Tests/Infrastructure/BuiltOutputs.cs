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
        // One directory per test process, named by its PID; a test host is often killed rather
        // than exited, so each run removes the copies of runs whose process is gone.
        const string Stem = "fabric-lab-bin-";
        foreach (string stale in Directory.GetDirectories(Path.GetTempPath(), Stem + "*"))
        {
            if (int.TryParse(Path.GetFileName(stale)[Stem.Length..], out int pid) && pid != Environment.ProcessId && !IsAlive(pid))
            {
                try
                {
                    Directory.Delete(stale, recursive: true);
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                {
                }
            }
        }

        string root = Path.Combine(Path.GetTempPath(), Stem + Environment.ProcessId);
        Directory.CreateDirectory(root);
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

    private static bool IsAlive(int pid) => Directory.Exists($"/proc/{pid}");

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
