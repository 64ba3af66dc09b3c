namespace Fabric.Benchmarks;

public static class BenchmarkProgram
{
    public static void Main(string[] args)
        => BenchmarkDotNet.Running.BenchmarkSwitcher.FromAssembly(typeof(BenchmarkProgram).Assembly).Run(args);
}
