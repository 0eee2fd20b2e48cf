using System.Runtime.InteropServices;
using ILGPU;
using ILGPU.Runtime;
using RefQsr.Engine.Quantization;
using RefQsr.Engine.RefQsr;
using RefQsr.Kernels;
using RefQsr.Kernels.Gpu;

namespace RefQsr.Engine.Tests.Gpu;

/// <summary>RefER's device kernels (docs/refqsr.md steps 1–6) against the CPU engine's, on
/// every available accelerator: pooled match codes, the argmax cost volume (ties included),
/// the pooled flow, its upsampling and the warp are all identical, bit for bit.</summary>
[Collection(GpuCollection.Name)]
public sealed class GpuRefErKernelTests
{
    static int[] Pack(ReadOnlySpan<sbyte> codes) => MemoryMarshal.Cast<sbyte, int>(codes).ToArray();

    static float[] Feature(int h, int w, int ch, int seed)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, h * w * ch).Select(_ => (float)(rng.NextDouble() * 6 - 3)).ToArray();
    }

    [Theory]
    [MemberData(nameof(Accelerators.Available), MemberType = typeof(Accelerators))]
    public void PooledMatchCodesAreIdentical(string accelerator)
    {
        var k = Accelerators.Get(accelerator).Kernels;
        var a = k.Accelerator;
        // remainder rows and columns dropped (10x11 → 3x3), a zero pixel (norm floor 1e-12), 2..8 bits
        foreach (var (h, w, ch, bits) in new[] { (10, 11, 16, 4), (6, 9, 8, 2), (3, 3, 64, 8), (12, 7, 4, 3) })
        {
            var x = Feature(h, w, ch, h * w + bits);
            Array.Clear(x, 0, ch);
            var expected = RefErMatching.PooledCodes(x, h, w, ch, bits);
            var unit = Quantizer.Symmetric(1f, bits);
            using var dx = a.Allocate1D(x);
            using var dNorms = a.Allocate1D<float>(h * w);
            using var dCodes = a.Allocate1D<int>(expected.Length / 4);
            k.RefEr.PooledCodes(dx.View, dNorms.View, dCodes.View, h, w, ch, new QuantizerArgs(unit.Lo, unit.Hi, unit.S, unit.Zp, unit.QLo, unit.QHi));
            k.Synchronize();
            Assert.Equal(expected, MemoryMarshal.Cast<int, sbyte>(dCodes.GetAsArray1D().AsSpan()).ToArray());
        }
    }

    [Theory]
    [MemberData(nameof(Accelerators.Available), MemberType = typeof(Accelerators))]
    public void CostVolumeArgmaxIsIdenticalTiesIncluded(string accelerator)
    {
        var k = Accelerators.Get(accelerator).Kernels;
        var a = k.Accelerator;
        foreach (var (nq, nr, ch, levels, seed) in new[] { (37, 53, 64, 7, 1), (9, 12, 16, 3, 2), (5, 1, 4, 3, 3), (20, 30, 8, 1, 4) })
        {
            // few code levels (levels = 1: codes −1..1) make many exactly tied costs
            var rng = new Random(seed);
            var q = Enumerable.Range(0, nq * ch).Select(_ => (sbyte)rng.Next(-levels, levels + 1)).ToArray();
            var r = Enumerable.Range(0, nr * ch).Select(_ => (sbyte)rng.Next(-levels, levels + 1)).ToArray();
            // duplicated reference rows: the same cost at two positions, the lower must win
            if (nr > 4) Array.Copy(r, 0, r, 3 * ch, ch);
            // the engine's fast path and the scalar truth agree; the device must give the same
            var expected = new int[nq];
            ArgmaxCostVolume.Run(q, r, ch, expected);
            var scalar = new int[nq];
            ArgmaxCostVolume.Reference(q, r, ch, scalar);
            Assert.Equal(scalar, expected);
            using var dq = a.Allocate1D(Pack(q));
            using var dr = a.Allocate1D(Pack(r));
            using var dArg = a.Allocate1D<int>(nq);
            k.RefEr.Argmax(dq.View, dr.View, dArg.View, nq, nr, ch);
            k.Synchronize();
            Assert.Equal(expected, dArg.GetAsArray1D());
        }
    }

    [Fact]
    public void AllEqualCostsPickTheFirstReferencePosition()
    {
        var k = Accelerators.Get(Accelerators.Cpu).Kernels;
        using var dq = k.Accelerator.Allocate1D(new int[3 * 2]);   // zero codes: every cost is 0
        using var dr = k.Accelerator.Allocate1D(Enumerable.Range(0, 5 * 2).Select(i => 0x01FF01FF * (i % 3)).ToArray());
        using var dArg = k.Accelerator.Allocate1D<int>(3);
        k.RefEr.Argmax(dq.View, dr.View, dArg.View, 3, 5, 8);
        k.Synchronize();
        Assert.Equal(new[] { 0, 0, 0 }, dArg.GetAsArray1D());
    }

    [Theory]
    [MemberData(nameof(Accelerators.Available), MemberType = typeof(Accelerators))]
    public void PooledFlowAndItsUpsamplingAreIdentical(string accelerator)
    {
        var k = Accelerators.Get(accelerator).Kernels;
        var a = k.Accelerator;
        // pooled query grids onto feature sizes with and without remainders, a reference of another width
        foreach (var (pqh, pqw, prh, prw, h, w) in new[] { (3, 4, 5, 3, 10, 13), (1, 1, 2, 2, 3, 5), (4, 3, 4, 3, 12, 9), (2, 5, 1, 7, 8, 17) })
        {
            var rng = new Random(pqh * 31 + w);
            var match = Enumerable.Range(0, pqh * pqw).Select(_ => rng.Next(prh * prw)).ToArray();
            var pooled = RefErMatching.PooledFlow(match, pqh, pqw, prw);
            var expected = new float[h * w * 2];
            FlowUpsample.Run(pooled, pqh, pqw, expected, h, w, FlowUpsample.PoolFactor);
            using var dMatch = a.Allocate1D(match);
            using var dPooled = a.Allocate1D<float>(pooled.Length);
            using var dFlow = a.Allocate1D<float>(expected.Length);
            k.RefEr.PooledFlow(dMatch.View, dPooled.View, pqh, pqw, prw);
            k.RefEr.FlowUpsample(dPooled.View, dFlow.View, pqh, pqw, h, w, FlowUpsample.PoolFactor);
            k.Synchronize();
            Assert.Equal(pooled, dPooled.GetAsArray1D());
            Assert.Equal(expected, dFlow.GetAsArray1D());
        }
    }

    [Theory]
    [MemberData(nameof(Accelerators.Available), MemberType = typeof(Accelerators))]
    public void WarpIsIdentical(string accelerator)
    {
        var k = Accelerators.Get(accelerator).Kernels;
        var a = k.Accelerator;
        foreach (var (sh, sw, h, w, ch) in new[] { (7, 9, 6, 8, 4), (5, 5, 9, 7, 16), (1, 3, 2, 3, 8) })
        {
            var source = Feature(sh, sw, ch, sh * 7 + ch);
            var rng = new Random(sw + ch);
            // fractional, integer, far outside (both sides), and non-finite displacements
            var flow = Enumerable.Range(0, h * w * 2).Select(_ => (float)(rng.NextDouble() * 8 - 4)).ToArray();
            flow[0] = 1f; flow[1] = -2f;
            flow[2] = 100f; flow[3] = -100f;
            flow[4] = float.NaN; flow[6] = float.PositiveInfinity; flow[9] = -0.5f;
            var expected = new float[h * w * ch];
            BilinearWarp.Run(source, sh, sw, ch, flow, h, w, expected);
            using var dSource = a.Allocate1D(source);
            using var dFlow = a.Allocate1D(flow);
            using var dOut = a.Allocate1D<float>(expected.Length);
            k.RefEr.Warp(dSource.View, dFlow.View, dOut.View, sh, sw, h, w, ch);
            k.Synchronize();
            var actual = dOut.GetAsArray1D();
            for (int i = 0; i < expected.Length; i++)
                Assert.True(BitConverter.SingleToInt32Bits(expected[i]) == BitConverter.SingleToInt32Bits(actual[i]), $"warp value {i}: {expected[i]} vs {actual[i]}");
        }
    }

    [Theory]
    [MemberData(nameof(Accelerators.Available), MemberType = typeof(Accelerators))]
    public void SubtractFromIsElementwise(string accelerator)
    {
        var k = Accelerators.Get(accelerator).Kernels;
        var x = Feature(3, 5, 4, 11);
        var y = Feature(3, 5, 4, 12);
        using var dx = k.Accelerator.Allocate1D(x);
        using var dy = k.Accelerator.Allocate1D(y);
        k.RefEr.SubtractFrom(dx.View, dy.View);
        k.Synchronize();
        Assert.Equal(x.Zip(y, (p, q) => p - q).ToArray(), dy.GetAsArray1D());
    }

    [Fact]
    public void ShapesTheKernelsCannotRunAreClearErrors()
    {
        var k = Accelerators.Get(Accelerators.Cpu).Kernels;
        using var f = k.Accelerator.Allocate1D<float>(64);
        using var c = k.Accelerator.Allocate1D<int>(64);
        var unit = Quantizer.Symmetric(1f, 4);
        var args = new QuantizerArgs(unit.Lo, unit.Hi, unit.S, unit.Zp, unit.QLo, unit.QHi);
        Assert.Contains("multiple of 4", Assert.Throws<ArgumentException>(() => k.RefEr.PooledCodes(f.View, f.View, c.View, 3, 3, 6, args)).Message);
        Assert.Contains("no 3x3 pooled grid", Assert.Throws<ArgumentException>(() => k.RefEr.PooledCodes(f.View, f.View, c.View, 2, 8, 4, args)).Message);
        Assert.Contains("multiple of 4", Assert.Throws<ArgumentException>(() => k.RefEr.Argmax(c.View, c.View, c.View, 2, 2, 10)).Message);
        Assert.Contains("smaller than the shape", Assert.Throws<ArgumentException>(() => k.RefEr.Argmax(c.View, c.View, c.View, 40, 40, 8)).Message);
    }
}
