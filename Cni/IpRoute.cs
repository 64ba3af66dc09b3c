using System.Diagnostics;

namespace Fabric.Cni;

/// <summary>
/// Interface and address changes through iproute2 (<c>ip</c>), inside the container's network
/// namespace through util-linux's <c>nsenter --net=PATH</c>: the tools every Linux host has, rather
/// than the plugin's own netlink code. A failure is a <see cref="CniError"/> with the command's output.
/// </summary>
internal static class IpRoute
{
    private static readonly string Ip = Find("ip", ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"]);
    private static readonly string Nsenter = Find("nsenter", ["/usr/bin/nsenter", "/bin/nsenter", "/usr/sbin/nsenter"]);

    /// <summary>Runs <c>ip</c> with <paramref name="args"/> in the plugin's (the host's) namespace; the exit code and output.</summary>
    public static (int ExitCode, string Output) Host(params string[] args) => Run(Ip, args, null);

    /// <summary>Runs <c>ip -batch -</c> with <paramref name="batch"/> (one command a line) inside <paramref name="netns"/>.</summary>
    public static (int ExitCode, string Output) InNamespace(string netns, string batch)
        => Run(Nsenter, [$"--net={netns}", Ip, "-batch", "-"], batch);

    /// <summary>Runs <c>ip</c> with <paramref name="args"/> inside <paramref name="netns"/>.</summary>
    public static (int ExitCode, string Output) InNamespace(string netns, params string[] args)
        => Run(Nsenter, [$"--net={netns}", Ip, .. args], null);

    /// <summary>Like <see cref="Host"/>, throwing a <see cref="CniError"/> (I/O failure) unless it exits 0.</summary>
    public static string HostChecked(params string[] args) => Checked(Host(args), $"ip {string.Join(' ', args)}");

    /// <summary>Throws a <see cref="CniError"/> unless <paramref name="result"/> exited 0; its output otherwise.</summary>
    public static string Checked((int ExitCode, string Output) result, string what)
        => result.ExitCode == 0 ? result.Output : throw new CniError(CniError.IoFailure, $"{what} failed", result.Output.Trim());

    private static (int, string) Run(string file, IEnumerable<string> args, string? stdin)
    {
        var info = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = stdin is not null,
            UseShellExecute = false,
        };
        foreach (string arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        using var process = Process.Start(info) ?? throw new CniError(CniError.IoFailure, $"cannot start {file}");
        if (stdin is not null)
        {
            process.StandardInput.Write(stdin);
            process.StandardInput.Close();
        }

        var stderr = process.StandardError.ReadToEndAsync();
        string stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, stdout + stderr.Result);
    }

    private static string Find(string name, string[] candidates)
        => candidates.FirstOrDefault(File.Exists) ?? name;
}
