using BenchmarkDotNet.Attributes;
using RefQsr.Engine.RefQsr;
using RefQsr.Kernels;

namespace RefQsr.Bench;

/// <summary>The parts of one RefER block on a 72x72x64 feature (the paper's patch) beside
/// the 8-bit 3x3 conv with its epilogue that the block runs twice (baseline), one thread:
/// what a query patch pays for RefER beyond the two convs of the ResBlock it replaces.
/// Random features; the reference's pooled codes are made once per reference by the
/// schedule, so Matching starts from them and ReferenceCodes is listed apart.</summary>
[MemoryDiagnoser]
public class RefErBenchmarks
{
    const int H = 72, W = 72, C = 64, BLow = 4;

    float[] query = [], reference = [], flow = [], warped = [];
    sbyte[] referenceCodes = [];
    byte[] codes = [], nextCodes = [];
    QuantConvWeights weights = null!;
    EpilogueOps toCodes;

    [GlobalSetup]
    public void Setup()
    {
        var r = new Random(3);
        query = Enumerable.Range(0, H * W * C).Select(_ => (float)(r.NextDouble() * 4 - 1)).ToArray();
        reference = Enumerable.Range(0, H * W * C).Select(_ => (float)(r.NextDouble() * 4 - 1)).ToArray();
        referenceCodes = RefErMatching.PooledCodes(reference, H, W, C, BLow);
        flow = RefErMatching.PixelFlow(query, H, W, referenceCodes, H, W, C, BLow)!;
        warped = new float[H * W * C];
        codes = Enumerable.Range(0, H * W * C).Select(_ => (byte)r.Next(256)).ToArray();
        nextCodes = new byte[H * W * C];
        weights = new QuantConvWeights(Enumerable.Range(0, C * C * 9).Select(_ => (sbyte)r.Next(-128, 128)).ToArray(), C, C);
        toCodes = new EpilogueOps { NextCodes = nextCodes, NextQuantizer = new CodeQuantizer(-2f, 2f, 255 / 4f, 0f, -128, 127), CodesOnly = true };
    }

    [Benchmark(Baseline = true)]
    public void Conv8ToNextCodes() => QuantConv3x3.RunWithEpilogue(codes, weights, H, W, -128, 0, 0.01f, [], toCodes, 1);

    /// <summary>Steps 1-3 on the reference (once per reference, shared by its queries).</summary>
    [Benchmark]
    public sbyte[] ReferenceCodes() => RefErMatching.PooledCodes(reference, H, W, C, BLow);

    /// <summary>Steps 1-5 on the query: normalise, pool, quantize, argmax cost volume, flow.</summary>
    [Benchmark]
    public float[]? Matching() => RefErMatching.PixelFlow(query, H, W, referenceCodes, H, W, C, BLow);

    /// <summary>Step 6: the backward bilinear warp of the reference feature.</summary>
    [Benchmark]
    public void Warp() => BilinearWarp.Run(reference, H, W, C, flow, H, W, warped);
}
