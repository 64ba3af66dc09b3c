using System.Diagnostics;

namespace Fabric.Testing;

/// <summary>How a <see cref="TestProcess"/> is started and where its output goes.</summary>
public sealed record TestProcessOptions
{
    /// <summary>The working directory. Defaults to the test host's current directory.</summary>
    public string? WorkingDirectory { get; init; }

    /// <summary>Environment variables to set (or, with a null value, remove) for the process.</summary>
    public IReadOnlyDictionary<string, string?>? Environment { get; init; }

    /// <summary>A log shared with other processes that also gets every line, as <c>name: line</c>.</summary>
    public OutputLog? SharedLog { get; init; }

    /// <summary>How many characters of the process's own output to keep. Defaults to 1 Mi characters.</summary>
    public int MaxOutputChars { get; init; } = 1 << 20;

    /// <summary>Whether the process's own output lines start with the time they arrived. Defaults to false.</summary>
    public bool Timestamps { get; init; }
}

/// <summary>
/// A process a test started, known by its PID: its output captured (<see cref="Output"/>),
/// signalled by that PID only, stopped gracefully (SIGTERM, a bounded wait, then SIGKILL to the
/// whole tree) or killed outright (SIGKILL to the whole tree, as a crash), and killed when the test
/// host exits. A .NET host ignores SIGTERM unless it observes its stopping token, so a graceful stop
/// is always bounded.
/// </summary>
public sealed class TestProcess : IAsyncDisposable, IDisposable
{
    private readonly Process _process;
    private readonly long _startTime;
    private int _disposed;

    private TestProcess(string name, Process process, OutputLog output)
    {
        Name = name;
        _process = process;
        Output = output;
        Pid = process.Id;
        _startTime = ProcessTree.StartTime(Pid) ?? -1;
    }

    /// <summary>The name the test gave the process, used in logs and messages.</summary>
    public string Name { get; }

    /// <summary>The process id.</summary>
    public int Pid { get; }

    /// <summary>Everything the process wrote to stdout and stderr (bounded).</summary>
    public OutputLog Output { get; }

    /// <summary>Whether the process has ended.</summary>
    public bool HasExited => _process.HasExited;

    /// <summary>The exit code, once <see cref="HasExited"/>.</summary>
    public int ExitCode => _process.ExitCode;

    /// <summary>The last lines of <see cref="Output"/>, for a failure message.</summary>
    public string Tail(int lines = 40) => Output.Tail(lines);

    /// <summary>Starts <paramref name="file"/> with <paramref name="arguments"/>, output captured.</summary>
    public static TestProcess Start(string name, string file, IEnumerable<string> arguments, TestProcessOptions? options = null)
    {
        options ??= new TestProcessOptions();
        var start = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (options.WorkingDirectory is { } directory)
        {
            start.WorkingDirectory = directory;
        }

        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var (key, value) in options.Environment ?? new Dictionary<string, string?>())
        {
            if (value is null)
            {
                start.Environment.Remove(key);
            }
            else
            {
                start.Environment[key] = value;
            }
        }

        var output = new OutputLog(options.MaxOutputChars, options.Timestamps);
        var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {name} ({file})");
        var instance = new TestProcess(name, process, output);
        var shared = options.SharedLog;
        process.OutputDataReceived += (_, e) => instance.OnLine(e.Data, OutputStream.Out, shared);
        process.ErrorDataReceived += (_, e) => instance.OnLine(e.Data, OutputStream.Error, shared);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        AppDomain.CurrentDomain.ProcessExit += instance.KillOnTestHostExit;
        return instance;
    }

    /// <summary>Starts <c>dotnet <paramref name="dll"/></c> in the dll's directory.</summary>
    public static TestProcess StartDotnet(string name, string dll, IEnumerable<string> arguments, TestProcessOptions? options = null)
        => Start(name, "dotnet", [dll, .. arguments], (options ?? new TestProcessOptions()) with { WorkingDirectory = Path.GetDirectoryName(dll) });

    /// <summary>Starts <paramref name="command"/> inside network namespace <paramref name="ns"/> (<c>ip netns exec</c>, which execs it: the PID is the command's).</summary>
    public static TestProcess StartInNamespace(string name, string ns, IEnumerable<string> command, TestProcessOptions? options = null)
        => Start(name, "ip", ["netns", "exec", ns, .. command], options);

    /// <summary>Sends <paramref name="signal"/> (see <see cref="Signals"/>) to this process only; nothing once it has ended.</summary>
    public void Signal(int signal)
    {
        if (_process.HasExited)
        {
            return;
        }

        if (!ProcessTree.Signal((Pid, _startTime), signal) && !_process.HasExited)
        {
            throw new InvalidOperationException($"kill -{signal} {Pid} ({Name}) failed");
        }
    }

    /// <summary>Pauses the process (SIGSTOP).</summary>
    public void Pause() => Signal(Signals.Stop);

    /// <summary>Resumes a paused process (SIGCONT).</summary>
    public void Resume() => Signal(Signals.Continue);

    /// <summary>Waits at most <paramref name="timeout"/> for the process to end (and its output to be read).</summary>
    /// <returns>Whether it ended.</returns>
    public async Task<bool> WaitForExitAsync(TimeSpan timeout)
    {
        using var bound = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(bound.Token);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    /// <summary>
    /// Waits until a line of output contains <paramref name="text"/>; fails if the process ends first
    /// or nothing comes within <paramref name="timeout"/>, with the output's tail.
    /// </summary>
    public async Task<string> WaitForOutputAsync(string text, TimeSpan timeout)
    {
        using var bound = new CancellationTokenSource(timeout);
        var line = Output.NextLineAsync(l => l.Contains(text, StringComparison.Ordinal), includeKept: true, bound.Token);
        var exited = _process.WaitForExitAsync(bound.Token);
        try
        {
            if (await Task.WhenAny(line, exited) == line || line.IsCompletedSuccessfully)
            {
                return await line;
            }

            await exited;

            // The exit can be seen before the line waiter has run for the last lines the process
            // wrote (they are read, then matched on another thread): give it a moment.
            if (await Task.WhenAny(line, Task.Delay(TimeSpan.FromSeconds(1), CancellationToken.None)) == line && line.IsCompletedSuccessfully)
            {
                return await line;
            }

            throw new InvalidOperationException($"{Name} (pid {Pid}) exited with {ExitCode} before it wrote '{text}':\n{Tail()}");
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"{Name} (pid {Pid}) did not write '{text}' within {timeout.TotalSeconds} s:\n{Tail()}");
        }
        finally
        {
            await bound.CancelAsync(); // releases the line waiter when the process ended first
        }
    }

    /// <summary>SIGKILL to the process and its whole tree, like a crash; waits (at most 10 s) for the exit.</summary>
    public void Kill()
    {
        try
        {
            if (!_process.HasExited)
            {
                ProcessTree.Kill(Pid);
            }

            _process.WaitForExit(10_000);
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
    }

    /// <summary>
    /// Graceful stop: SIGTERM (after SIGCONT, should it be paused), at most <paramref name="grace"/>
    /// for the process to end, then SIGKILL to whatever of its tree still runs.
    /// </summary>
    /// <returns>Whether the process ended by itself within <paramref name="grace"/>.</returns>
    public async Task<bool> StopAsync(TimeSpan grace)
    {
        if (_process.HasExited)
        {
            return true;
        }

        var tree = ProcessTree.Of(Pid);
        foreach (var member in tree)
        {
            ProcessTree.Signal(member, Signals.Continue);
        }

        ProcessTree.Signal((Pid, _startTime), Signals.Terminate);
        bool graceful = await WaitForExitAsync(grace);
        Kill();
        foreach (var member in tree.Skip(1))
        {
            ProcessTree.Signal(member, Signals.Kill); // descendants the process left behind
        }

        return graceful;
    }

    /// <summary>Kills the process tree (if still running) and releases the process.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        AppDomain.CurrentDomain.ProcessExit -= KillOnTestHostExit;
        Kill();
        _process.Dispose();
    }

    /// <inheritdoc cref="Dispose"/>
    public ValueTask DisposeAsync()
    {
        Dispose();
        return ValueTask.CompletedTask;
    }

    private void KillOnTestHostExit(object? sender, EventArgs e) => Kill();

    private void OnLine(string? line, OutputStream stream, OutputLog? shared)
    {
        if (line is null)
        {
            return;
        }

        Output.Add(line, stream: stream);
        shared?.Add(line, Name, stream);
    }
}
