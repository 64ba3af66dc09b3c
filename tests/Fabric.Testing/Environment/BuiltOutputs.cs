namespace Fabric.Testing;

/// <summary>
/// A project's build output (Silo, HostAgent), copied once per test process into a private
/// directory and started from there. Each process runs from its own project's output (its
/// deps.json and runtimeconfig.json describe it; copies next to the tests lack its framework
/// references), and the private copy keeps a fabric running while someone rebuilds the same tree.
/// </summary>
public static class BuiltOutputs
{
    private const string Stem = "fabric-testing-bin-";
    private static readonly Lock Gate = new();
    private static readonly Dictionary<string, string> Copies = new(StringComparer.Ordinal);
    private static readonly Lazy<string> Root = new(() =>
    {
        // One directory per test process, named by its PID; a test host is often killed rather
        // than exited, so each run removes the copies of runs whose process is gone.
        foreach (string stale in Directory.GetDirectories(Path.GetTempPath(), Stem + "*"))
        {
            if (int.TryParse(Path.GetFileName(stale)[Stem.Length..], out int pid) && pid != Environment.ProcessId && !Directory.Exists($"/proc/{pid}"))
            {
                TryDelete(stale);
            }
        }

        string root = Path.Combine(Path.GetTempPath(), Stem + Environment.ProcessId);
        Directory.CreateDirectory(root);
        AppDomain.CurrentDomain.ProcessExit += (_, _) => TryDelete(root);
        return root;
    });

    /// <summary>The silo (<c>Silo/</c>, Fabric.Silo.dll).</summary>
    public static string SiloDll => Dll("Silo", "Fabric.Silo.dll");

    /// <summary>The host agent (<c>HostAgent/</c>, Fabric.HostAgent.dll).</summary>
    public static string AgentDll => Dll("HostAgent", "Fabric.HostAgent.dll");

    /// <summary>
    /// The path of <paramref name="dll"/> in a private copy of <paramref name="project"/>'s output
    /// (<c>project/bin/Configuration/net10.0</c>). FABRIC_LAB_BUILD_ROOT names another tree to take
    /// it from (a mutant, to see a test fail). Waits (up to 3 minutes) for a complete, settled output.
    /// </summary>
    public static string Dll(string project, string dll)
    {
        lock (Gate)
        {
            if (Copies.TryGetValue(project, out string? copied))
            {
                return Path.Combine(copied, dll);
            }

            string root = Environment.GetEnvironmentVariable("FABRIC_LAB_BUILD_ROOT") is { Length: > 0 } other ? other : Repository.Root;
            string source = Path.Combine(root, project, "bin", Repository.Configuration, "net10.0");
            string target = Path.Combine(Root.Value, project);
            string stem = Path.GetFileNameWithoutExtension(dll);
            string[] required = [dll, $"{stem}.deps.json", $"{stem}.runtimeconfig.json"];
            var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(3);
            while (true)
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
                    throw new FileNotFoundException($"{dll} is not built (completely) at {source}; run: dotnet build Fabric.sln -c {Repository.Configuration}");
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

    private static void TryDelete(string directory)
    {
        try
        {
            Directory.Delete(directory, recursive: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
        }
    }
}
