using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;

namespace Fabric.Chaos.Tests;

/// <summary>
/// One process the chaos fixture started (silo, agent, Azurite), known by its PID: killed
/// (SIGKILL), paused (SIGSTOP) and resumed (SIGCONT) by that PID only, and killed when the test
/// host exits.
/// </summary>
public sealed partial class ChaosProcess : IDisposable
{
    public const int SigKill = 9;
    public const int SigCont = 18;
    public const int SigStop = 19;
    private const int MaxOutput = 512 * 1024;

    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private ChaosProcess(string name, Process process)
    {
        Name = name;
        _process = process;
    }

    public string Name { get; }

    public int Pid => _process.Id;

    public bool HasExited => _process.HasExited;

    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    public string Tail(int lines = 30) => string.Join('\n', Output.Split('\n').TakeLast(lines));

    public static ChaosProcess Start(string name, string file, IEnumerable<string> args, string? workingDirectory = null)
    {
        var start = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Path.GetTempPath(),
        };
        foreach (string arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {name}");
        var instance = new ChaosProcess(name, process);
        process.OutputDataReceived += (_, e) => instance.Append(e.Data);
        process.ErrorDataReceived += (_, e) => instance.Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        AppDomain.CurrentDomain.ProcessExit += instance.KillOnExit;
        return instance;
    }

    /// <summary>A .NET dll from a private copy of its project's build output.</summary>
    public static ChaosProcess StartDll(string name, string dll, IEnumerable<string> args)
        => Start(name, "dotnet", [dll, .. args], Path.GetDirectoryName(dll));

    public void Signal(int signal)
    {
        if (!_process.HasExited && SendSignal(Pid, signal) != 0)
        {
            throw new InvalidOperationException($"kill -{signal} {Pid} ({Name}) failed: errno {Marshal.GetLastPInvokeError()}");
        }
    }

    /// <summary>SIGKILL by PID and wait for the exit.</summary>
    public void Kill()
    {
        try
        {
            if (!_process.HasExited)
            {
                SendSignal(Pid, SigCont); // a paused process must not stay paused
                _process.Kill(entireProcessTree: true);
            }

            _process.WaitForExit(10_000);
        }
        catch (InvalidOperationException)
        {
        }
    }

    public void Dispose()
    {
        AppDomain.CurrentDomain.ProcessExit -= KillOnExit;
        Kill();
        _process.Dispose();
    }

    private void KillOnExit(object? sender, EventArgs e) => Kill();

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            if (_output.Length > MaxOutput)
            {
                _output.Remove(0, MaxOutput / 2);
            }

            _output.Append(DateTime.UtcNow.ToString("HH:mm:ss.fff ")).AppendLine(line);
        }
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int SendSignal(int pid, int signal);
}
