using BenchmarkDotNet.Running;

namespace RefQsr.Bench;

public static class Program
{
    /// <summary>dotnet run --project bench/RefQsr.Bench -c Release -- compare [--quick] [--json] [--onnx DIR] [--weights DIR] [--out FILE]
    /// (side by side with ONNX Runtime), or BenchmarkDotNet arguments, e.g. --filter *Conv*.</summary>
    public static int Main(string[] args)
    {
        if (args.Length > 0 && args[0] == "compare") return CompareCommand.Run(args[1..]);
        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
        return 0;
    }
}
