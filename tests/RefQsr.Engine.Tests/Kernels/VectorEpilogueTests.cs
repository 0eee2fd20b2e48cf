using RefQsr.Kernels;

namespace RefQsr.Engine.Tests.Kernels;

/// <summary>The Vector512 paths of the element-wise kernels give the bits of their scalar truths.</summary>
public class VectorEpilogueTests
{
    [Theory]
    [InlineData(-128, 127, 64)]      // 8-bit codes and the largest zero points
    [InlineData(-3, 0, 64)]
    [InlineData(255, -128, 64)]
    [InlineData(-255, 128, 128)]
    public void VectorEpilogueEqualsTheScalarPathBitForBit(int za, int zw, int c)
    {
        int h = 7, w = 9;
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
