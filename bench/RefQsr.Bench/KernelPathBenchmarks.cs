using BenchmarkDotNet.Attributes;
using RefQsr.Kernels;

namespace RefQsr.Bench;

/// <summary>Every exact integer conv path this CPU can run, for the bit-width pairs the
/// shipped models use (8-bit models and references, the RefQSR queries' w6a4 and w6a3, 4-bit
/// models, RefQSR 4-2's w3a2), on the conv of <see cref="ConvBenchmarks"/> with the next
/// codes out, one thread: what <c>QuantConv3x3.BestPath</c> chooses between, side by side
/// (its choice is marked "best" in the case name). Weights are uniform over the bit-width's
/// codes, so the 2-D byte Winograd paths run only where every transformed weight of such
/// weights fits a byte (4 bits and below).</summary>
[MemoryDiagnoser]
[Config(typeof(KernelPathBenchmarkConfig))]
public class KernelPathBenchmarks
{
    const int H = 96, W = 96, C = 64;

    /// <summary>One benchmark case: a bit-width pair and a path that runs it exactly here.</summary>
    public readonly record struct Case(int WeightBits, int ActivationBits, QuantConvPath Path, bool Best)
    {
        public override string ToString() => $"w{WeightBits}a{ActivationBits} {Path}{(Best ? " (best)" : "")}";
    }

    static readonly (int W, int A)[] BitPairs = [(8, 8), (6, 4), (6, 3), (4, 4), (3, 2)];

    public static IEnumerable<Case> Cases()
    {
        foreach (var (wBits, aBits) in BitPairs)
        {
            var (codes, qw) = Data(wBits, aBits, H, W);
            var best = QuantConv3x3.BestPath(qw, codes.Max());
            var (tinyCodes, _) = Data(wBits, aBits, 5, 7);
            foreach (var path in Enum.GetValues<QuantConvPath>())
            {
                if (path == QuantConvPath.Scalar) continue;
                try { QuantConv3x3.Run(tinyCodes, qw, new int[5 * 7 * C], 5, 7, 1, path); }
                catch (NotSupportedException) { continue; }   // this CPU, these weights or these codes' bound
                yield return new Case(wBits, aBits, path, path == best);
            }
        }
    }

    [ParamsSource(nameof(Cases))]
    public Case Kernel { get; set; }

    byte[] codes = [];
    QuantConvWeights qw = null!;
    EpilogueOps toCodes;

    static (byte[] Codes, QuantConvWeights Weights) Data(int wBits, int aBits, int h, int w)
    {
        var r = new Random(wBits * 10 + aBits);
        var weights = Enumerable.Range(0, C * C * 9).Select(_ => (sbyte)r.Next(-(1 << (wBits - 1)), 1 << (wBits - 1))).ToArray();
        // the codes span the whole range, so each path's bound is taken at the bit-width's maximum
        var codes = Enumerable.Range(0, h * w * C).Select(i => (byte)(i == 0 ? (1 << aBits) - 1 : r.Next(1 << aBits))).ToArray();
        return (codes, new QuantConvWeights(weights, C, C, wBits));
    }

    [GlobalSetup]
    public void Setup()
    {
        (codes, qw) = Data(Kernel.WeightBits, Kernel.ActivationBits, H, W);
        int qlo = -(1 << (Kernel.ActivationBits - 1)), qhi = (1 << (Kernel.ActivationBits - 1)) - 1;
        toCodes = new EpilogueOps { NextCodes = new byte[H * W * C], NextQuantizer = new CodeQuantizer(-2f, 2f, (qhi - qlo) / 4f, 0f, qlo, qhi), CodesOnly = true };
    }

    [Benchmark]
    public void ToNextCodes() => QuantConv3x3.RunWithEpilogue(codes, qw, H, W, -(1 << (Kernel.ActivationBits - 1)), 0, 0.01f, [], toCodes, 1, Kernel.Path);
}
