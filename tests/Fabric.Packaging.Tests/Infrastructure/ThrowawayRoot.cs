namespace Fabric.Packaging.Tests.Infrastructure;

/// <summary>
/// A directory that dpkg treats as a system's root: an initialised database (var/lib/dpkg with
/// status, available, info, updates), the passwd, group and shadow files of a system with only root,
/// and the dpkg status of the packages Fabric's depend on (from this machine, so dependencies are
/// checked). Packages are installed with <c>dpkg --root=DIR --force-script-chrootless</c>: the
/// maintainer scripts run on this machine with <c>DPKG_ROOT=DIR</c>, which they must honour (what
/// Debian's bootstrap tools rely on too). Removed on dispose.
/// </summary>
public sealed class ThrowawayRoot : IDisposable
{
    private static readonly TimeSpan DpkgTimeout = TimeSpan.FromMinutes(3);

    private ThrowawayRoot(string path) => Path = path;

    /// <summary>The root directory.</summary>
    public string Path { get; }

    /// <summary>Creates and initialises the root at <paramref name="path"/>.</summary>
    public static ThrowawayRoot Create(string path, PackagesFixture packages)
    {
        var root = new ThrowawayRoot(path);
        string admin = root.At("/var/lib/dpkg");
        foreach (string directory in new[] { "info", "updates", "triggers" })
        {
            Directory.CreateDirectory(System.IO.Path.Combine(admin, directory));
        }

        Directory.CreateDirectory(root.At("/var/log"));
        File.WriteAllText(System.IO.Path.Combine(admin, "status"), packages.DependencyStatus);
        File.WriteAllText(System.IO.Path.Combine(admin, "available"), string.Empty);
        foreach (string name in packages.DependencyListNames)
        {
            File.WriteAllText(System.IO.Path.Combine(admin, "info", name + ".list"), string.Empty);
        }

        Directory.CreateDirectory(root.At("/etc"));
        File.WriteAllText(root.At("/etc/passwd"), "root:x:0:0:root:/root:/bin/bash\n");
        File.WriteAllText(root.At("/etc/group"), "root:x:0:\n");
        File.WriteAllText(root.At("/etc/shadow"), "root:*:19000:0:99999:7:::\n");
        File.WriteAllText(root.At("/etc/gshadow"), "root:*::\n");
        File.SetUnixFileMode(root.At("/etc/shadow"), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead);
        File.SetUnixFileMode(root.At("/etc/gshadow"), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead);
        return root;
    }

    /// <summary>The path inside the root of the absolute path <paramref name="path"/> (e.g. <c>/etc/fabric</c>).</summary>
    public string At(string path) => System.IO.Path.Combine(Path, path.TrimStart('/'));

    /// <summary>Runs dpkg on the root with <paramref name="arguments"/> (e.g. <c>-i a.deb</c>, <c>--purge fabric-agent</c>); throws with its output unless it exits 0.</summary>
    /// <returns>dpkg's output.</returns>
    public async Task<string> DpkgAsync(params string[] arguments)
    {
        var result = await Shell.RunAsync("dpkg", [$"--root={Path}", "--force-script-chrootless", $"--log={At("/var/log/dpkg.log")}", .. arguments], DpkgTimeout);
        return result.ExitCode == 0 ? result.Output : throw new CommandFailedException($"dpkg {string.Join(' ', arguments)} exited {result.ExitCode}:\n{result.Output}");
    }

    /// <summary>The packages dpkg's database of the root holds, name → "version status" (e.g. <c>1.0.0 ii</c>).</summary>
    public async Task<IReadOnlyDictionary<string, string>> PackagesAsync()
    {
        var result = await Shell.RunAsync("dpkg-query", [$"--admindir={At("/var/lib/dpkg")}", "-W", "-f=${Package} ${Version} ${db:Status-Abbrev}\n", "fabric*"], TimeSpan.FromSeconds(30));
        return result.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Where(line => line.StartsWith("fabric", StringComparison.Ordinal))
            .Select(line => line.Split(' ', 2))
            .ToDictionary(parts => parts[0], parts => parts[1].Trim());
    }

    /// <summary>What <c>stat</c> says of <paramref name="path"/> (inside the root), without following a link.</summary>
    public async Task<FileStat> StatAsync(string path)
    {
        var result = await Shell.RunAsync("stat", ["-c", "%a %u %g %F", At(path)], TimeSpan.FromSeconds(10));
        if (result.ExitCode != 0)
        {
            throw new FileNotFoundException($"{path} is not in the root: {result.Output}");
        }

        string[] parts = result.Output.Trim().Split(' ', 4);
        return new FileStat(Convert.ToInt32(parts[0], 8), int.Parse(parts[1]), int.Parse(parts[2]), parts[3]);
    }

    /// <summary>The root's passwd entry of <paramref name="user"/>, or null.</summary>
    public string[]? PasswdEntry(string user) => Entry("/etc/passwd", user);

    /// <summary>The root's group entry of <paramref name="group"/>, or null.</summary>
    public string[]? GroupEntry(string group) => Entry("/etc/group", group);

    /// <summary>Whether <paramref name="path"/> (inside the root) exists as anything, a dangling link included.</summary>
    public bool Exists(string path)
    {
        string full = At(path);
        return File.Exists(full) || Directory.Exists(full) || new FileInfo(full).LinkTarget is not null;
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
        }
    }

    private string[]? Entry(string file, string name)
        => File.ReadAllLines(At(file)).Select(line => line.Split(':')).FirstOrDefault(fields => fields[0] == name);
}

/// <summary>A file's permission bits (<see cref="Octal"/> writes them as chmod does: "640"), owner and group ids, and kind ("regular file", "symbolic link", "directory").</summary>
public sealed record FileStat(int Mode, int Uid, int Gid, string Kind)
{
    /// <summary>The mode in octal, as ls and chmod write it.</summary>
    public string Octal => Convert.ToString(Mode, 8);
}
