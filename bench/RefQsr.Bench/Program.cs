using BenchmarkDotNet.Running;

namespace RefQsr.Bench;

public static class Program
{
    /// <summary>dotnet run --project bench/RefQsr.Bench -c Release -- [BenchmarkDotNet args, e.g. --filter *Conv*]</summary>
    public static void Main(string[] args) => BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
}
