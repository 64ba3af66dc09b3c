using Xunit.Abstractions;

namespace Fabric.Lab.Tests;

/// <summary>
/// Issue 11, item 4: a real container runtime as the plugin's client. Podman 4.3 (Debian) with its
/// CNI backend runs busybox containers (<c>--rootfs</c>: no registry is reachable here) inside two
/// lab hosts' namespaces; everything podman keeps (storage, run state, its containers.conf and
/// network config) lives in the lab's work directory. On this machine podman needs runc (crun
/// refuses the hybrid cgroup mount) and container ulimits within the host's hard limits.
/// </summary>
[Collection(CniCollection.Name)]
[Trait("Category", "Cni")]
public sealed class PodmanTests(CniFixture lab, ITestOutputHelper output)
{
    [Fact]
    public async Task Podman_runs_two_containers_on_two_hosts_through_the_plugin_they_talk_across_the_fabric_and_rm_leaves_nothing()
    {
        var h1 = await PodmanHost.CreateAsync(lab, 1);
        var h2 = await PodmanHost.CreateAsync(lab, 2);
        try
        {
            await h1.CheckedAsync("run -d --name web1 --network fabric-web --rootfs {rootfs} /bin/sleep 600");
            await h2.CheckedAsync("run -d --name web2 --network fabric-web --rootfs {rootfs} /bin/sleep 600");
            string ip1 = (await h1.CheckedAsync("inspect web1 --format '{{(index .NetworkSettings.Networks \"fabric-web\").IPAddress}}'")).Trim();
            string ip2 = (await h2.CheckedAsync("inspect web2 --format '{{(index .NetworkSettings.Networks \"fabric-web\").IPAddress}}'")).Trim();
            output.WriteLine($"podman containers: web1 {ip1} on h1, web2 {ip2} on h2");
            Assert.StartsWith("10.41.", ip1, StringComparison.Ordinal);
            Assert.NotEqual(ip1, ip2);
            var held = await lab.AllocationsAsync();
            Assert.Contains(ip1, held.Values);
            Assert.Contains(ip2, held.Values);

            string ping = await h2.CheckedAsync($"exec web2 ping -c 3 -W 2 {ip1}");
            Assert.Contains("3 packets received", ping, StringComparison.Ordinal);
            Assert.Contains("mtu 1450", await h1.CheckedAsync("exec web1 ip link show eth0"), StringComparison.Ordinal);
            Assert.Single(await lab.PluginVethsAsync(1));

            await h1.CheckedAsync("rm -f web1");
            await h2.CheckedAsync("rm -f web2");
            Assert.Empty(await lab.PluginVethsAsync(1));
            Assert.Empty(await lab.PluginVethsAsync(2));
            Assert.DoesNotContain(await lab.AllocationsAsync(), a => a.Value == ip1 || a.Value == ip2);
        }
        finally
        {
            await h1.RunAsync("rm -af -t 0");
            await h2.RunAsync("rm -af -t 0");
        }
    }

    /// <summary>Podman confined to one lab host's namespace and the lab's work directory.</summary>
    private sealed class PodmanHost(CniFixture lab, int host, string dir)
    {
        public static async Task<PodmanHost> CreateAsync(CniFixture lab, int host)
        {
            string dir = Path.Combine(lab.Fabric.WorkDir, $"podman-h{host}");
            string netd = Path.Combine(dir, "net.d"), rootfs = Path.Combine(dir, "rootfs");
            foreach (string d in new[] { netd, Path.Combine(dir, "tmp"), Path.Combine(rootfs, "bin"), Path.Combine(rootfs, "etc"), Path.Combine(rootfs, "proc"), Path.Combine(rootfs, "sys"), Path.Combine(rootfs, "dev"), Path.Combine(rootfs, "tmp") })
            {
                Directory.CreateDirectory(d);
            }

            File.Copy("/bin/busybox", Path.Combine(rootfs, "bin", "busybox"), overwrite: true);
            foreach (string applet in new[] { "sh", "sleep", "ping", "ip" })
            {
                File.CreateSymbolicLink(Path.Combine(rootfs, "bin", applet), "busybox");
            }

            File.Copy(lab.Conflist(host), Path.Combine(netd, "fabric-web.conflist"));
            await File.WriteAllTextAsync(Path.Combine(dir, "containers.conf"), $"""
                [containers]
                default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]
                [network]
                network_backend = "cni"
                cni_plugin_dirs = ["{await CniRuntime.PluginDirectoryAsync()}", "/usr/lib/cni"]
                network_config_dir = "{netd}"
                [engine]
                runtime = "runc"
                cgroup_manager = "cgroupfs"
                events_logger = "file"
                events_logfile_path = "{dir}/events.log"
                tmp_dir = "{dir}/tmp"
                """);
            return new PodmanHost(lab, host, dir);
        }

        // nsenter, not `ip netns exec`: that one mounts a fresh /sys for the namespace, which hides
        // the cgroup mounts runc needs.
        public Task<Shell.Result> RunAsync(string arguments)
            => Shell.RunAsync(
                "nsenter",
                [$"--net=/run/netns/{lab.HostNamespace(host)}", "bash", "-c", $"CONTAINERS_CONF={dir}/containers.conf podman --root {dir}/root --runroot {dir}/run {arguments.Replace("{rootfs}", Path.Combine(dir, "rootfs"), StringComparison.Ordinal)}"],
                TimeSpan.FromSeconds(90));

        public async Task<string> CheckedAsync(string arguments)
        {
            var result = await RunAsync(arguments);
            return result.ExitCode == 0 ? result.Output : throw new CommandFailedException($"podman {arguments} (h{host}) exited {result.ExitCode}:\n{result.Output}");
        }
    }
}
