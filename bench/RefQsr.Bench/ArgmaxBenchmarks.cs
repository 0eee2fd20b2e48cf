using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Reports;
using RefQsr.Kernels;

namespace RefQsr.Bench;

/// <summary>RefER's argmax over the cost volume (<see cref="ArgmaxCostVolume"/>) on every path
/// this CPU runs, one thread, 64 channels of b_low 4 codes: the pooled grids of a 72-px patch
/// (24x24 query positions against 24x24 reference positions, as the shipped models run it) and
/// of a 96-px one (32x32). The scalar reference is timed in the same run, and the "vs Scalar"
/// column is its time over each path's; <see cref="ArgmaxCostVolume.BestPath"/>'s choice is
/// marked "best". What one RefER block's matching adds to a query patch is the
/// <see cref="RefErBenchmarks"/> suite's Matching.</summary>
[MemoryDiagnoser]
[Config(typeof(ArgmaxBenchmarkConfig))]
public class ArgmaxBenchmarks
{
    const int C = 64, Bits = 4;

    /// <summary>One case: the pooled grid's side and a path that runs here.</summary>
    public readonly record struct Case(int Side, ArgmaxPath Path, bool Best)
    {
        public override string ToString() => $"{Side}x{Side} {Path}{(Best ? " (best)" : "")}";
    }

    public static IEnumerable<Case> Cases()
    {
        foreach (int side in new[] { 24, 32 })
            foreach (var path in Enum.GetValues<ArgmaxPath>().Where(ArgmaxCostVolume.IsSupported))
                yield return new Case(side, path, path == ArgmaxCostVolume.BestPath(C));
    }

    [ParamsSource(nameof(Cases))]
    public Case Kernel { get; set; }

    sbyte[] query = [], reference = [];
    int[] argmax = [];

    [GlobalSetup]
    public void Setup()
    {
        int n = Kernel.Side * Kernel.Side, qmax = (1 << (Bits - 1)) - 1;
        var r = new Random(Kernel.Side);
        query = Enumerable.Range(0, n * C).Select(_ => (sbyte)r.Next(-qmax, qmax + 1)).ToArray();
        reference = Enumerable.Range(0, n * C).Select(_ => (sbyte)r.Next(-qmax, qmax + 1)).ToArray();
        argmax = new int[n];
    }

    [Benchmark]
    public void Argmax() => ArgmaxCostVolume.Run(query, reference, C, argmax, 1, Kernel.Path);

    /// <summary>The scalar case of the same grid: the baseline of the ratio column.</summary>
    internal static bool SameGridScalar(BenchmarkDotNet.Running.BenchmarkCase candidate, BenchmarkDotNet.Running.BenchmarkCase of)
        => candidate.Parameters["Kernel"] is Case c && of.Parameters["Kernel"] is Case o && c.Side == o.Side && c.Path == ArgmaxPath.Scalar;

    /// <summary>Multiply-accumulates of one case: every query position against every reference position.</summary>
    internal static long Macs(BenchmarkDotNet.Running.BenchmarkCase b)
        => b.Parameters["Kernel"] is Case c ? (long)c.Side * c.Side * c.Side * c.Side * C : 0;
}

/// <summary>The argmax suite's config: room for the case names, GMAC/s of the cost volume the
/// argmax never stores, and the speed-up over the scalar loop measured in the same run.</summary>
internal sealed class ArgmaxBenchmarkConfig : ManualConfig
{
    public ArgmaxBenchmarkConfig()
    {
        AddColumn(new GmacColumn(ArgmaxBenchmarks.Macs));
        AddColumn(new RatioToCaseColumn("vs Scalar", ArgmaxBenchmarks.SameGridScalar));
        SummaryStyle = SummaryStyle.Default.WithMaxParameterColumnWidth(32);
    }
}
