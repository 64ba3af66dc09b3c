using System.Net;
using Fabric.Packaging.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Fabric.Packaging.Tests;

/// <summary>
/// The Debian packages as an operator uses them: built by deploy/packaging/build-debs.sh, installed,
/// upgraded, removed and purged with dpkg against a throwaway root (dpkg --root
/// --force-script-chrootless, so the maintainer scripts run with DPKG_ROOT set), the units checked
/// with systemd-analyze verify, the installed programs run from the root.
/// </summary>
[Collection(PackagesCollection.Name)]
[Trait("Category", "Ops")]
public sealed class PackageTests(PackagesFixture packages, ITestOutputHelper output)
{
    private const string Old = PackagesFixture.OldVersion;
    private const string New = PackagesFixture.NewVersion;

    [Fact]
    public async Task Installing_the_silo_and_agent_lays_out_their_files_creates_the_fabric_user_and_starts_nothing()
    {
        using var root = await InstallServicesAsync(Old);

        var user = root.PasswdEntry("fabric") ?? throw new Xunit.Sdk.XunitException("no fabric user in the root's /etc/passwd");
        var group = root.GroupEntry("fabric") ?? throw new Xunit.Sdk.XunitException("no fabric group in the root's /etc/group");
        int gid = int.Parse(group[2]);
        Assert.True(int.Parse(user[2]) < 1000, $"fabric is not a system user: uid {user[2]}");
        Assert.Equal(gid.ToString(), user[3]);
        Assert.Equal("/usr/sbin/nologin", user[6]);
        Assert.Single(File.ReadAllLines(root.At("/etc/passwd")), line => line.StartsWith("fabric:", StringComparison.Ordinal));

        // Programs: self-contained (the runtime ships inside, the host needs no .NET), root-owned.
        foreach (string program in new[] { "/opt/fabric/silo/Fabric.Silo", "/opt/fabric/agent/Fabric.HostAgent", "/usr/lib/cni/fabric" })
        {
            await AssertStatAsync(root, program, "755", 0, 0, "regular file");
        }

        foreach (string app in new[] { "/opt/fabric/silo/Fabric.Silo", "/opt/fabric/agent/Fabric.HostAgent" })
        {
            string runtimeConfig = await File.ReadAllTextAsync(root.At(app + ".runtimeconfig.json"));
            Assert.Contains("\"includedFrameworks\"", runtimeConfig, StringComparison.Ordinal);
            Assert.True(File.Exists(root.At(Path.Combine(Path.GetDirectoryName(app)!, "libcoreclr.so"))), $"{app}: no .NET runtime beside it");
        }

        // The CNI plugin where Debian's plugins are, and linked where containerd and the kubelet look.
        await AssertStatAsync(root, "/opt/cni/bin/fabric", "777", 0, 0, "symbolic link");
        Assert.Equal("/usr/lib/cni/fabric", new FileInfo(root.At("/opt/cni/bin/fabric")).LinkTarget);

        // The units are the repository's, as they are.
        foreach (string unit in new[] { "fabric-silo.service", "fabric-agent.service" })
        {
            await AssertStatAsync(root, $"/lib/systemd/system/{unit}", "644", 0, 0, "regular file");
            Assert.Equal(await File.ReadAllTextAsync(Repository.Path("deploy", "systemd", unit)), await File.ReadAllTextAsync(root.At($"/lib/systemd/system/{unit}")));
        }

        // Settings: the templates, readable by root and the fabric group only, and known to dpkg as conffiles.
        foreach (string name in new[] { "silo", "agent" })
        {
            await AssertStatAsync(root, $"/etc/fabric/{name}.env", "640", 0, gid, "regular file");
            Assert.Equal(await File.ReadAllTextAsync(Repository.Path("deploy", "systemd", $"{name}.env")), await File.ReadAllTextAsync(root.At($"/etc/fabric/{name}.env")));
            Assert.Contains($"/etc/fabric/{name}.env", await File.ReadAllTextAsync(root.At($"/var/lib/dpkg/info/fabric-{name}.conffiles")), StringComparison.Ordinal);
        }

        // Nothing enabled: the settings come first.
        Assert.False(root.Exists("/etc/systemd/system/multi-user.target.wants"), "postinst enabled a unit");
        Assert.Equal(new Dictionary<string, string> { ["fabric-agent"] = $"{Old} ii", ["fabric-silo"] = $"{Old} ii" }, await root.PackagesAsync());
    }

    [Fact]
    public async Task The_installed_units_pass_systemd_analyze_verify()
    {
        using var root = await InstallServicesAsync(Old);

        // verify --root needs the units ours refer to (sysinit.target, multi-user.target...): a copy
        // of the root's files (hard links) next to this machine's own units.
        string verifyRoot = Path.Combine(packages.WorkDirectory, "verify-" + Guid.NewGuid().ToString("N")[..12]);
        try
        {
            Directory.CreateDirectory(Path.Combine(verifyRoot, "usr", "lib", "systemd"));
            await CheckedAsync("cp", ["-al", root.At("/opt"), root.At("/lib"), verifyRoot]);
            await CheckedAsync("cp", ["-a", "/lib/systemd/system", Path.Combine(verifyRoot, "usr", "lib", "systemd", "system")]);

            var verify = await Shell.RunAsync("systemd-analyze", ["verify", $"--root={verifyRoot}", "fabric-silo.service", "fabric-agent.service"], TimeSpan.FromSeconds(60));
            output.WriteLine($"systemd-analyze verify: exit {verify.ExitCode}\n{verify.Output}");
            Assert.Equal(0, verify.ExitCode);
            Assert.Equal(string.Empty, verify.Output.Trim());

            // The check is not vacuous: without the agent's program, verify fails and says why.
            File.Delete(Path.Combine(verifyRoot, "opt", "fabric", "agent", "Fabric.HostAgent"));
            var broken = await Shell.RunAsync("systemd-analyze", ["verify", $"--root={verifyRoot}", "fabric-agent.service"], TimeSpan.FromSeconds(60));
            Assert.NotEqual(0, broken.ExitCode);
            Assert.Contains("/opt/fabric/agent/Fabric.HostAgent", broken.Output, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(verifyRoot, recursive: true);
        }
    }

    [Fact]
    public async Task The_installed_silo_starts_from_its_package_and_answers_healthz()
    {
        using var root = await InstallServicesAsync(Old);

        // The unit's environment: silo.env as installed, with this test's ports, in embedded mode
        // (the template's AzureTable mode needs an account the test does not have).
        var ports = SiloPorts.Free();
        var environment = ServiceEnvironment(root, "/etc/fabric/silo.env");
        environment["Fabric__Cluster__Mode"] = "Embedded";
        environment["Fabric__Cluster__SiloPort"] = ports.Silo.ToString();
        environment["Fabric__Cluster__GatewayPort"] = ports.Gateway.ToString();
        environment["Urls"] = $"http://127.0.0.1:{ports.Http}";

        await using var silo = TestProcess.Start("packaged-silo", root.At("/opt/fabric/silo/Fabric.Silo"), [], new TestProcessOptions
        {
            WorkingDirectory = root.At("/opt/fabric/silo"),
            Environment = environment,
        });
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        try
        {
            await Eventually.WaitAsync(
                async () =>
                {
                    if (silo.HasExited)
                    {
                        throw new WaitAbortedException($"the packaged silo exited {silo.ExitCode}:\n{silo.Tail()}");
                    }

                    // Refused until it listens: counts as not yet.
                    return (await http.GetAsync($"http://127.0.0.1:{ports.Http}/healthz")).StatusCode == HttpStatusCode.OK;
                },
                TimeSpan.FromSeconds(90),
                "the packaged silo answers /healthz");
        }
        finally
        {
            output.WriteLine(silo.Tail());
        }
    }

    [Fact]
    public async Task The_installed_agent_with_its_template_settings_refuses_to_start_and_names_the_values_to_set()
    {
        using var root = await InstallServicesAsync(Old);

        await using var agent = TestProcess.Start("packaged-agent", root.At("/opt/fabric/agent/Fabric.HostAgent"), [], new TestProcessOptions
        {
            WorkingDirectory = root.At("/opt/fabric/agent"),
            Environment = ServiceEnvironment(root, "/etc/fabric/agent.env"),
        });
        Assert.True(await agent.WaitForExitAsync(TimeSpan.FromSeconds(60)), $"the agent did not stop:\n{agent.Tail()}");
        string said = agent.Tail();
        output.WriteLine(said);
        Assert.Equal(1, agent.ExitCode);
        Assert.Contains("Fabric:Agent:HostId", said, StringComparison.Ordinal);
        Assert.Contains("Fabric:Agent:VtepAddress", said, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", said, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_upgrade_keeps_a_locally_changed_agent_env()
    {
        using var root = await InstallServicesAsync(Old);
        string agentEnv = root.At("/etc/fabric/agent.env");
        string changed = (await File.ReadAllTextAsync(agentEnv))
            .Replace("Fabric__Agent__HostId=\n", "Fabric__Agent__HostId=hv-17\n", StringComparison.Ordinal)
            .Replace("Fabric__Agent__VtepAddress=\n", "Fabric__Agent__VtepAddress=10.0.0.17\n", StringComparison.Ordinal);
        Assert.Contains("hv-17", changed, StringComparison.Ordinal);
        await File.WriteAllTextAsync(agentEnv, changed);

        output.WriteLine(await root.DpkgAsync("--install", packages.Deb("fabric-silo", New), packages.Deb("fabric-agent", New)));

        Assert.Equal(new Dictionary<string, string> { ["fabric-agent"] = $"{New} ii", ["fabric-silo"] = $"{New} ii" }, await root.PackagesAsync());
        Assert.Equal(changed, await File.ReadAllTextAsync(agentEnv));
        int gid = int.Parse(root.GroupEntry("fabric")![2]);
        await AssertStatAsync(root, "/etc/fabric/agent.env", "640", 0, gid, "regular file");
        await AssertStatAsync(root, "/etc/fabric/silo.env", "640", 0, gid, "regular file");
        Assert.Empty(Directory.GetFiles(root.At("/etc/fabric"), "*.dpkg-*"));
        Assert.Single(File.ReadAllLines(root.At("/etc/passwd")), line => line.StartsWith("fabric:", StringComparison.Ordinal));
        await AssertStatAsync(root, "/opt/fabric/agent/Fabric.HostAgent", "755", 0, 0, "regular file");
    }

    [Fact]
    public async Task Remove_keeps_the_settings_and_purge_removes_settings_state_and_enablement()
    {
        using var root = await InstallServicesAsync(Old);
        // As an operator and a running agent leave a host: the unit enabled, ports and tables saved.
        await CheckedAsync("systemctl", [$"--root={root.Path}", "enable", "fabric-agent.service"]);
        Assert.True(root.Exists("/etc/systemd/system/multi-user.target.wants/fabric-agent.service"));
        Directory.CreateDirectory(root.At("/var/lib/fabric-agent"));
        await File.WriteAllTextAsync(root.At("/var/lib/fabric-agent/ports.json"), "[]");
        await File.WriteAllTextAsync(root.At("/var/lib/fabric-agent/forwarding.json"), "{}");

        output.WriteLine(await root.DpkgAsync("--remove", "fabric-agent"));
        foreach (string gone in new[] { "/opt/fabric/agent", "/usr/lib/cni/fabric", "/opt/cni/bin/fabric", "/lib/systemd/system/fabric-agent.service" })
        {
            Assert.False(root.Exists(gone), $"{gone} is left after remove");
        }

        Assert.True(root.Exists("/etc/fabric/agent.env"), "remove took the settings");
        Assert.True(root.Exists("/var/lib/fabric-agent/ports.json"), "remove took the agent's state");
        Assert.Equal($"{Old} rc", (await root.PackagesAsync())["fabric-agent"]);

        output.WriteLine(await root.DpkgAsync("--purge", "fabric-agent"));
        foreach (string gone in new[] { "/etc/fabric/agent.env", "/var/lib/fabric-agent", "/etc/systemd/system/multi-user.target.wants/fabric-agent.service" })
        {
            Assert.False(root.Exists(gone), $"{gone} is left after purge");
        }

        // The silo's settings are the silo package's.
        Assert.True(root.Exists("/etc/fabric/silo.env"), "purging the agent took the silo's settings");

        output.WriteLine(await root.DpkgAsync("--purge", "fabric-silo"));
        foreach (string gone in new[] { "/etc/fabric", "/opt/fabric", "/lib/systemd/system/fabric-silo.service" })
        {
            Assert.False(root.Exists(gone), $"{gone} is left after purge");
        }

        Assert.Empty(await root.PackagesAsync());
        // The user stays, as Debian's packages leave theirs (files it owned may outlive the packages).
        Assert.NotNull(root.PasswdEntry("fabric"));
    }

    [Fact]
    public async Task Fabricctl_installs_as_usr_bin_fabricctl_runs_upgrades_and_purges()
    {
        using var root = packages.NewRoot();
        output.WriteLine(await root.DpkgAsync("--install", packages.Deb("fabricctl", Old)));
        await AssertStatAsync(root, "/usr/bin/fabricctl", "755", 0, 0, "regular file");

        // One native executable: it runs from the root with no .NET around it.
        var help = await Shell.RunAsync("env", ["-i", "PATH=/usr/sbin:/usr/bin:/sbin:/bin", root.At("/usr/bin/fabricctl"), "--help"], TimeSpan.FromSeconds(30));
        output.WriteLine(help.Output);
        Assert.Equal(0, help.ExitCode);
        Assert.Contains("fabricctl", help.Output, StringComparison.Ordinal);

        output.WriteLine(await root.DpkgAsync("--install", packages.Deb("fabricctl", New)));
        Assert.Equal($"{New} ii", (await root.PackagesAsync())["fabricctl"]);

        output.WriteLine(await root.DpkgAsync("--purge", "fabricctl"));
        Assert.False(root.Exists("/usr/bin/fabricctl"));
        Assert.Empty(await root.PackagesAsync());
    }

    [Fact]
    public async Task The_build_script_refuses_a_version_dpkg_would_refuse_before_publishing_anything()
    {
        string outdir = Path.Combine(packages.WorkDirectory, "refused");
        var result = await Shell.RunAsync("bash", [Repository.Path("deploy", "packaging", "build-debs.sh"), "1.0 beta", outdir], TimeSpan.FromSeconds(30));
        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("VERSION '1.0 beta' is not a Debian version", result.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("dotnet publish", result.Output, StringComparison.Ordinal);
    }

    private async Task<ThrowawayRoot> InstallServicesAsync(string version)
    {
        var root = packages.NewRoot();
        try
        {
            output.WriteLine(await root.DpkgAsync("--install", packages.Deb("fabric-silo", version), packages.Deb("fabric-agent", version)));
            return root;
        }
        catch
        {
            root.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The environment systemd gives the unit's program: the installed environment file, no .NET
    /// location (DOTNET_ROOT and the test host's own variables removed), a plain PATH.
    /// </summary>
    private static Dictionary<string, string?> ServiceEnvironment(ThrowawayRoot root, string environmentFile)
    {
        var environment = new Dictionary<string, string?>(StringComparer.Ordinal)
        {
            ["PATH"] = "/usr/sbin:/usr/bin:/sbin:/bin",
            ["DOTNET_ENVIRONMENT"] = "Production",
            ["DOTNET_ROOT"] = null,
            ["DOTNET_HOST_PATH"] = null,
            ["ASPNETCORE_ENVIRONMENT"] = null,
        };
        foreach (var (key, value) in EnvironmentFile.Read(root.At(environmentFile)))
        {
            environment[key] = value;
        }

        return environment;
    }

    private static async Task AssertStatAsync(ThrowawayRoot root, string path, string mode, int uid, int gid, string kind)
    {
        var stat = await root.StatAsync(path);
        Assert.True(
            stat.Octal == mode && stat.Uid == uid && stat.Gid == gid && stat.Kind == kind,
            $"{path}: expected {kind} {mode} {uid}:{gid}, found {stat.Kind} {stat.Octal} {stat.Uid}:{stat.Gid}");
    }

    private static async Task CheckedAsync(string file, string[] arguments)
    {
        var result = await Shell.RunAsync(file, arguments, TimeSpan.FromSeconds(60));
        if (result.ExitCode != 0)
        {
            throw new CommandFailedException($"{file} {string.Join(' ', arguments)} exited {result.ExitCode}:\n{result.Output}");
        }
    }
}
