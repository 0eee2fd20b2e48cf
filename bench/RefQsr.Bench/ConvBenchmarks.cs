using BenchmarkDotNet.Attributes;
using RefQsr.Kernels;

namespace RefQsr.Bench;

/// <summary>One 3x3 64→64 conv on a 96x96 patch (339.7 M MACs): the integer kernel at each
/// bit-width (weights and activations), alone and with the epilogue that writes the next
/// layer's codes as the network runs it, against the FP32 kernel (Winograd F(4x4, 3x3) on
/// AVX-512, and the direct sum it replaced), one thread. GMAC/s counts the direct MACs for
/// every kernel, so Winograd's is an effective rate.</summary>
[MemoryDiagnoser]
[Config(typeof(ConvBenchmarkConfig))]
public class ConvBenchmarks
{
    const int H = 96, W = 96, C = 64;
    public const long Macs = (long)H * W * C * C * 9;

    [Params(8, 6, 4, 3, 2)]
    public int Bits { get; set; }

    byte[] codes = [];
    QuantConvWeights qw = null!;
    int[] acc = [];
    byte[] nextCodes = [];
    EpilogueOps toCodes;
    float[] input = [], output = [];
    FloatConvWeights fw = null!, fwDirect = null!;

    [GlobalSetup]
    public void Setup()
    {
        var r = new Random(1);
        codes = Enumerable.Range(0, H * W * C).Select(_ => (byte)r.Next(1 << Bits)).ToArray();
        var w = Enumerable.Range(0, C * C * 9).Select(_ => (sbyte)r.Next(-(1 << (Bits - 1)), 1 << (Bits - 1))).ToArray();
        qw = new QuantConvWeights(w, C, C);
        acc = new int[H * W * C];
        nextCodes = new byte[H * W * C];
        int qlo = -(1 << (Bits - 1)), qhi = (1 << (Bits - 1)) - 1;
        toCodes = new EpilogueOps { NextCodes = nextCodes, NextQuantizer = new CodeQuantizer(-2f, 2f, (qhi - qlo) / 4f, 0f, qlo, qhi), CodesOnly = true };
        input = codes.Select(c => (float)c).ToArray();
        output = new float[H * W * C];
        fw = new FloatConvWeights(w.Select(v => (float)v).ToArray(), C, C, 3);
        fwDirect = new FloatConvWeights(w.Select(v => (float)v).ToArray(), C, C, 3, FloatConvWeights.Algorithm.Direct);
    }

    [Benchmark]
    public void Integer() => QuantConv3x3.Run(codes, qw, acc, H, W, 1);

    /// <summary>What a ResBlock's conv1 costs: conv, zero-point corrections, scale and the
    /// next conv's codes, row by row (<see cref="QuantConv3x3.RunWithEpilogue(byte[], QuantConvWeights, int, int, int, int, float, float[], EpilogueOps, int)"/>).</summary>
    [Benchmark]
    public void IntegerToNextCodes() => QuantConv3x3.RunWithEpilogue(codes, qw, H, W, -(1 << (Bits - 1)), 0, 0.01f, [], toCodes, 1);

    [Benchmark]
    public void IntegerAvx2() => QuantConv3x3.Run(codes, qw, acc, H, W, 1, QuantConvPath.Avx2);

    [Benchmark(Baseline = true)]
    public void Float32() => FloatConv2d.Run(input, fw, output, H, W, 1);

    [Benchmark]
    public void Float32Direct() => FloatConv2d.Run(input, fwDirect, output, H, W, 1);
}
