using BenchmarkDotNet.Attributes;
using RefQsr.Kernels;

namespace RefQsr.Bench;

/// <summary>One 3x3 64→64 conv on a 96x96 patch (84.9 M MACs): the integer kernel at each
/// activation bit-width against the FP32 kernel, one thread.</summary>
[MemoryDiagnoser]
public class ConvBenchmarks
{
    const int H = 96, W = 96, C = 64;
    public const long Macs = (long)H * W * C * C * 9;

    [Params(8, 6, 4, 3, 2)]
    public int Bits { get; set; }

    byte[] codes = [];
    QuantConvWeights qw = null!;
    int[] acc = [];
    float[] input = [], output = [];
    FloatConvWeights fw = null!;

    [GlobalSetup]
    public void Setup()
    {
        var r = new Random(1);
        codes = Enumerable.Range(0, H * W * C).Select(_ => (byte)r.Next(1 << Bits)).ToArray();
        var w = Enumerable.Range(0, C * C * 9).Select(_ => (sbyte)r.Next(-(1 << (Bits - 1)), 1 << (Bits - 1))).ToArray();
        qw = new QuantConvWeights(w, C, C);
        acc = new int[H * W * C];
        input = codes.Select(c => (float)c).ToArray();
        output = new float[H * W * C];
        fw = new FloatConvWeights(w.Select(v => (float)v).ToArray(), C, C, 3);
    }

    [Benchmark]
    public void Integer() => QuantConv3x3.Run(codes, qw, acc, H, W, 1);

    [Benchmark]
    public void IntegerAvx2() => QuantConv3x3.Run(codes, qw, acc, H, W, 1, QuantConvPath.Avx2);

    [Benchmark(Baseline = true)]
    public void Float32() => FloatConv2d.Run(input, fw, output, H, W, 1);
}
