using System.Text;

namespace Fabric.Packaging.Tests.Infrastructure;

/// <summary>
/// Fabric's Debian packages, built once per test run by <c>deploy/packaging/build-debs.sh</c> as a
/// release is: <see cref="OldVersion"/> first (publishing the silo and agent self-contained, the
/// CNI plugin and fabricctl with Native AOT), then <see cref="NewVersion"/> from the same published
/// files (the script's <c>--publish-dir</c>), so the upgrade tests have two versions without
/// publishing twice. Also the dpkg status every throwaway root starts from: this machine's entries
/// of the packages they depend on, so dpkg checks the Depends fields for real.
/// </summary>
public sealed class PackagesFixture : IAsyncLifetime
{
    public const string OldVersion = "1.0.0";
    public const string NewVersion = "1.1.0";

    private const string Stem = "fabric-packaging-";
    private readonly Dictionary<(string Package, string Version), string> _debs = [];

    /// <summary>Where the packages, the published files and the throwaway roots live (removed on dispose).</summary>
    public string WorkDirectory { get; } = Path.Combine(Path.GetTempPath(), $"{Stem}{Environment.ProcessId}-{Guid.NewGuid().ToString("N")[..8]}");

    /// <summary>The dpkg status stanzas (this machine's) of every package the fabric packages depend on.</summary>
    public string DependencyStatus { get; private set; } = string.Empty;

    /// <summary>The <c>dpkg-query -W -f='${binary:Package}'</c> names of <see cref="DependencyStatus"/>'s packages (their info/NAME.list files).</summary>
    public IReadOnlyList<string> DependencyListNames { get; private set; } = [];

    /// <summary>The path of <paramref name="package"/>'s .deb of <paramref name="version"/>.</summary>
    public string Deb(string package, string version)
        => _debs.TryGetValue((package, version), out string? path) ? path : throw new InvalidOperationException($"build-debs.sh built no {package} {version}");

    public async Task InitializeAsync()
    {
        RemoveStaleRuns();
        Directory.CreateDirectory(WorkDirectory);
        string publish = Path.Combine(WorkDirectory, "publish");
        foreach (string version in new[] { OldVersion, NewVersion })
        {
            string output = Path.Combine(WorkDirectory, version);
            var result = await Shell.RunAsync("bash", [Repository.Path("deploy", "packaging", "build-debs.sh"), "--publish-dir", publish, version, output], TimeSpan.FromMinutes(15));
            if (result.ExitCode != 0)
            {
                throw new CommandFailedException($"build-debs.sh {version} exited {result.ExitCode}:\n{result.Output}");
            }

            foreach (string deb in Directory.GetFiles(output, "*.deb"))
            {
                string name = Path.GetFileName(deb).Split('_')[0];
                _debs[(name, version)] = deb;
            }
        }

        await SeedDependencyStatusAsync();
    }

    public Task DisposeAsync()
    {
        TryDelete(WorkDirectory);
        return Task.CompletedTask;
    }

    /// <summary>A throwaway root of its own for a test, under <see cref="WorkDirectory"/>.</summary>
    public ThrowawayRoot NewRoot() => ThrowawayRoot.Create(Path.Combine(WorkDirectory, "root-" + Guid.NewGuid().ToString("N")[..12]), this);

    private async Task SeedDependencyStatusAsync()
    {
        // Every name in the Depends fields (alternatives too); of those, the ones installed here.
        var names = new SortedSet<string>(StringComparer.Ordinal);
        foreach (string deb in _debs.Values)
        {
            var depends = await Shell.RunAsync("dpkg-deb", ["--field", deb, "Depends"], TimeSpan.FromSeconds(30));
            foreach (string alternative in depends.Output.Split([',', '|'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                names.Add(alternative.Split(' ', 2)[0]);
            }
        }

        var status = new StringBuilder();
        var listNames = new List<string>();
        foreach (string name in names)
        {
            var installed = await Shell.RunAsync("dpkg-query", ["-W", "-f=${db:Status-Abbrev} ${binary:Package}", name], TimeSpan.FromSeconds(30));
            if (installed.ExitCode != 0 || !installed.Output.StartsWith("ii ", StringComparison.Ordinal))
            {
                continue;
            }

            listNames.Add(installed.Output.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1].Trim());
            var stanza = await Shell.RunAsync("dpkg-query", ["--status", name], TimeSpan.FromSeconds(30));
            // The root holds none of the package's files, so none of its conffiles either.
            bool inConffiles = false;
            foreach (string line in stanza.Output.Split('\n'))
            {
                if (line.StartsWith("Conffiles:", StringComparison.Ordinal))
                {
                    inConffiles = true;
                    continue;
                }

                if (inConffiles && line.StartsWith(' '))
                {
                    continue;
                }

                inConffiles = false;
                if (line.Length > 0)
                {
                    status.Append(line).Append('\n');
                }
            }

            status.Append('\n');
        }

        DependencyStatus = status.ToString();
        DependencyListNames = listNames;
    }

    private static void RemoveStaleRuns()
    {
        // A test host killed rather than exited leaves its packages (hundreds of MB) behind.
        foreach (string stale in Directory.GetDirectories(Path.GetTempPath(), Stem + "*"))
        {
            string rest = Path.GetFileName(stale)[Stem.Length..];
            if (int.TryParse(rest.Split('-')[0], out int pid) && pid != Environment.ProcessId && !Directory.Exists($"/proc/{pid}"))
            {
                TryDelete(stale);
            }
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

/// <summary>The tests that share one <see cref="PackagesFixture"/>.</summary>
[CollectionDefinition(Name)]
public sealed class PackagesCollection : ICollectionFixture<PackagesFixture>
{
    public const string Name = "Packages";
}
