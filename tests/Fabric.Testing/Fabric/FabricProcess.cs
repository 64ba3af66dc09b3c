namespace Fabric.Testing;

/// <summary>
/// A process of Fabric's own (silo, agent) started from the built output: its
/// <see cref="TestProcess"/>, and what every test asks of it (output, crash, graceful stop).
/// </summary>
public abstract class FabricProcess(string name, TestProcess process) : IAsyncDisposable, IDisposable
{
    /// <summary>The name the test gave the process.</summary>
    public string Name { get; } = name;

    /// <summary>The process.</summary>
    public TestProcess Process { get; } = process;

    /// <summary>The process id.</summary>
    public int Pid => Process.Pid;

    /// <summary>Whether the process has ended.</summary>
    public bool HasExited => Process.HasExited;

    /// <summary>The exit code, once it has ended.</summary>
    public int ExitCode => Process.ExitCode;

    /// <summary>Everything it wrote (bounded).</summary>
    public OutputLog Output => Process.Output;

    /// <summary>The last lines of its output, for failure messages.</summary>
    public string Tail(int lines = 40) => Process.Tail(lines);

    /// <summary>SIGKILL to its tree, like a crashed host: no shutdown, no goodbye to the cluster.</summary>
    public void Kill() => Process.Kill();

    /// <inheritdoc cref="TestProcess.StopAsync"/>
    public Task<bool> StopAsync(TimeSpan grace) => Process.StopAsync(grace);

    /// <inheritdoc cref="TestProcess.WaitForExitAsync"/>
    public Task<bool> WaitForExitAsync(TimeSpan timeout) => Process.WaitForExitAsync(timeout);

    /// <summary>Kills the process if it still runs and releases what it holds.</summary>
    public void Dispose()
    {
        Process.Dispose();
        Release();
        GC.SuppressFinalize(this);
    }

    /// <inheritdoc cref="Dispose"/>
    public ValueTask DisposeAsync()
    {
        Dispose();
        return ValueTask.CompletedTask;
    }

    /// <summary>Releases what a subclass holds besides the process (once it is gone).</summary>
    protected virtual void Release()
    {
    }
}
