using RefQsr.Kernels;

namespace RefQsr.Engine.Tests.Kernels;

/// <summary>The Vector512 paths of the element-wise kernels give the bits of their scalar truths.</summary>
public class VectorEpilogueTests
{
    // every border class: one-pixel rows and columns have neither neighbour on that axis
    [Theory]
    [InlineData(-128, 127, 64, 7, 9)]      // 8-bit codes and the largest zero points
    [InlineData(-3, 0, 64, 7, 9)]
    [InlineData(255, -128, 64, 7, 9)]
    [InlineData(-255, 128, 128, 7, 9)]
    [InlineData(-8, 3, 64, 1, 1)]
    [InlineData(-8, 3, 64, 1, 5)]
    [InlineData(-8, 3, 64, 4, 1)]
    [InlineData(-8, 3, 16, 2, 2)]
    public void VectorEpilogueEqualsTheScalarPathBitForBit(int za, int zw, int c, int h, int w)
    {
        var r = new Random(za * 31 + zw);
        var codes = Enumerable.Range(0, h * w * c).Select(_ => (byte)r.Next(256)).ToArray();
        var weights = Enumerable.Range(0, c * c * 9).Select(_ => (sbyte)r.Next(-128, 128)).ToArray();
        var qw = new QuantConvWeights(weights, c, c);
        var acc = new int[h * w * c];
        QuantConv3x3.Run(codes, qw, acc, h, w, 1);
        var a = Enumerable.Range(0, c).Select(_ => (float)r.NextDouble() * 3 - 1).ToArray();
        var b = Enumerable.Range(0, c).Select(_ => (float)r.NextDouble() - 0.5f).ToArray();
        var skip = Enumerable.Range(0, h * w * c).Select(_ => (float)r.NextDouble() * 4 - 2).ToArray();
        foreach (var ops in new[]
        {
            default,
            new EpilogueOps { AffineA = a, AffineB = b, PReluSlope = 0.25f },
            new EpilogueOps { AffineA = a, AffineB = b, Residual = skip },
            new EpilogueOps { PReluSlope = -0.1f, Residual = skip },
        })
        {
            var expected = new float[acc.Length];
            QuantConvEpilogue.DequantizeScalar(codes, acc, qw, h, w, za, zw, 0.0071f, expected, ops);
            var actual = new float[acc.Length];
            QuantConvEpilogue.Dequantize(codes, acc, qw, h, w, za, zw, 0.0071f, actual, ops, threads: 2);
            Assert.Equal(expected, actual);
        }
    }

    [Fact]
    public void FusedRequantizationGivesTheCodesOfTheOutput()
    {
        int h = 6, w = 9, c = 64;
        var r = new Random(12);
        var codes = Enumerable.Range(0, h * w * c).Select(_ => (byte)r.Next(16)).ToArray();
        var weights = Enumerable.Range(0, c * c * 9).Select(_ => (sbyte)r.Next(-32, 32)).ToArray();
        var qw = new QuantConvWeights(weights, c, c);
        var acc = new int[h * w * c];
        QuantConv3x3.Run(codes, qw, acc, h, w, 1);
        var next = new CodeQuantizer(-0.7f, 1.3f, 7.5f, -2f, -8, 7);
        foreach (bool scalar in new[] { false, true })
        {
            var y = new float[acc.Length];
            var fused = new byte[acc.Length];
            var ops = new EpilogueOps { PReluSlope = 0.2f, NextCodes = fused, NextQuantizer = next };
            if (scalar) QuantConvEpilogue.DequantizeScalar(codes, acc, qw, h, w, -8, 1, 0.003f, y, ops);
            else QuantConvEpilogue.Dequantize(codes, acc, qw, h, w, -8, 1, 0.003f, y, ops, threads: 2);
            var separate = new byte[y.Length];
            ActivationQuantize.Run(y, separate, next);
            Assert.Equal(separate, fused);
            Assert.True(separate.Distinct().Count() > 8, "the test codes must span the range");
            // codes only: the same codes, no float output needed (an empty one is accepted)
            var codesOnly = new byte[acc.Length];
            var opsCodes = ops with { NextCodes = codesOnly, CodesOnly = true };
            if (scalar) QuantConvEpilogue.DequantizeScalar(codes, acc, qw, h, w, -8, 1, 0.003f, [], opsCodes);
            else QuantConvEpilogue.Dequantize(codes, acc, qw, h, w, -8, 1, 0.003f, [], opsCodes, threads: 2);
            Assert.Equal(separate, codesOnly);
        }
        Assert.Contains("CodesOnly needs NextCodes", Assert.Throws<ArgumentException>(() => QuantConvEpilogue.Dequantize(codes, acc, qw, h, w, 0, 0, 1f, [],
            new EpilogueOps { CodesOnly = true })).Message);
        Assert.Throws<ArgumentException>(() => QuantConvEpilogue.Dequantize(codes, acc, qw, h, w, 0, 0, 1f, new float[acc.Length],
            new EpilogueOps { NextCodes = new byte[acc.Length] }));   // no quantizer given
    }

    [Fact]
    public void Int32BoundHoldsForSrResNetAndFailsWhereItMust()
    {
        Assert.True(QuantConvEpilogue.FitsInt32(64, -255, 128));
        Assert.True(QuantConvEpilogue.FitsInt32(1024, 0, 0));
        Assert.False(QuantConvEpilogue.FitsInt32(4096, -255, 128));
    }

    [Fact]
    public void VectorQuantizationEqualsTheScalarOneOnTiesNanAndInfinities()
    {
        var r = new Random(3);
        var x = new List<float> { float.NaN, float.PositiveInfinity, float.NegativeInfinity, -0f, 0f, float.MaxValue, float.MinValue, float.Epsilon };
        for (int k = -20; k <= 20; k++) x.Add(k + 0.5f);   // ties at scale 1: half to even
        while (x.Count < 1000) x.Add((float)(r.NextDouble() * 30 - 15));
        foreach (var (lo, hi, s, zp, qlo, qhi) in new[] { (-8f, 8f, 1f, 0f, -8, 7), (-1.3f, 2.7f, 63.75f, -19f, -128, 127), (0f, 6f, 2.5f, 7.5f, -8, 7) })
        {
            var expected = x.Select(v => ActivationQuantize.Reference(v, lo, hi, s, zp, qlo, qhi)).ToArray();
            for (int n = 0; n <= 37; n++)   // every tail length
            {
                var codes = new byte[x.Count - n];
                ActivationQuantize.Run(x.ToArray().AsSpan(0, x.Count - n), codes, lo, hi, s, zp, qlo, qhi);
                Assert.Equal(expected.AsSpan(0, x.Count - n).ToArray(), codes);
            }
        }
        Assert.Equal(0, ActivationQuantize.Reference(float.NaN, -1, 1, 1, 0, -1, 1));
        Assert.Equal(2, ActivationQuantize.Reference(2.5f, -4, 4, 1, 0, 0, 3));   // 2.5 rounds to 2
    }
}

/// <summary>The fused upsampler step against the three passes it replaces.</summary>
public class SubPixelConvTests
{
    [Theory]
    [InlineData(5, 7, 64)]
    [InlineData(9, 4, 128)]
    [InlineData(1, 1, 64)]
    public void FusedConvShufflePReluEqualsTheSeparatePassesBitForBit(int h, int w, int c)
    {
        var r = new Random(h * w + c);
        var x = Enumerable.Range(0, h * w * c).Select(_ => (float)(r.NextDouble() * 4 - 2)).ToArray();
        var oihw = Enumerable.Range(0, 4 * c * c * 9).Select(_ => (float)(r.NextDouble() - 0.5) * 0.1f).ToArray();
        const float slope = 0.23f;
        var plain = new FloatConvWeights(oihw, 4 * c, c, 3);
        var fused = new FloatConvWeights(PixelShuffle.SubPixelOrder(oihw, 4 * c, 2), 4 * c, c, 3);
        // AVX-512, or the Winograd path (AVX2 with FMA, or hardware Vector128)
        Assert.Equal(System.Runtime.Intrinsics.X86.Avx512F.IsSupported || fused.UsesWinograd, FloatConv2d.SubPixelSupported(fused));
        Assert.Equal(System.Runtime.Intrinsics.X86.Avx512F.IsSupported
            || (System.Runtime.Intrinsics.X86.Avx2.IsSupported && System.Runtime.Intrinsics.X86.Fma.IsSupported)
            || System.Runtime.Intrinsics.Vector128.IsHardwareAccelerated, FloatConv2d.SubPixelSupported(fused));
        if (!FloatConv2d.SubPixelSupported(fused)) return;

        var t = new float[h * w * 4 * c];
        FloatConv2d.Run(x, plain, t, h, w, 1);
        var expected = new float[t.Length];
        PixelShuffle.Run(t, h, w, 4 * c, 2, expected);
        for (int i = 0; i < expected.Length; i++) if (!(expected[i] > 0f)) expected[i] = slope * expected[i];

        foreach (int threads in new[] { 1, 2 })
        {
            var actual = new float[expected.Length];
            FloatConv2d.RunSubPixel2(x, fused, actual, h, w, slope, threads);
            Assert.Equal(expected, actual);
        }
    }

    [Fact]
    public void SubPixelOrderPutsEachSubPixelsChannelsTogether()
    {
        // 8 output channels = 2 channels x 4 sub-pixels, one weight each
        var w = Enumerable.Range(0, 8).Select(i => (float)i).ToArray();
        // PyTorch order c·4 + s  ->  s·2 + c
        Assert.Equal(new float[] { 0, 4, 1, 5, 2, 6, 3, 7 }, PixelShuffle.SubPixelOrder(w, 8, 2));
        Assert.Throws<ArgumentException>(() => PixelShuffle.SubPixelOrder(w, 6, 2));
    }
}
