using RefQsr.Engine.Networks;
using RefQsr.Engine.RefQsr;
using RefQsr.Engine.Weights;
using RefQsr.Kernels;

namespace RefQsr.Engine.Tests.RefQsr;

public class RefErTests
{
    static float[] Feature(int h, int w, int seed)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, h * w * 64).Select(_ => (float)(rng.NextDouble() * 4 - 2)).ToArray();
    }

    [Fact]
    public void MatchingEqualsBruteForceOverTheFullCostMatrix()
    {
        int hq = 13, wq = 11, hr = 16, wr = 9, bits = 4;   // different sizes, remainders dropped by the pool
        var fq = Feature(hq, wq, 1);
        var fr = Feature(hr, wr, 2);
        var flow = RefErMatching.PixelFlow(fq, hq, wq, fr, hr, wr, 64, bits)!;
        var cq = RefErMatching.PooledCodes(fq, hq, wq, 64, bits);
        var cr = RefErMatching.PooledCodes(fr, hr, wr, 64, bits);
        Assert.Equal(4 * 3 * 64, cq.Length);
        Assert.Equal(5 * 3 * 64, cr.Length);
        Assert.All(cq, c => Assert.InRange((int)c, -7, 7));
        var pooled = new float[4 * 3 * 2];
        for (int i = 0; i < 12; i++)
        {
            var e = Enumerable.Range(0, 15).Select(j => Enumerable.Range(0, 64).Sum(c => cq[i * 64 + c] * cr[j * 64 + c])).ToArray();
            int best = Array.IndexOf(e, e.Max());
            pooled[2 * i] = best % 3 - i % 3;
            pooled[2 * i + 1] = best / 3 - i / 3;
        }
        var expected = new float[hq * wq * 2];
        FlowUpsample.Run(pooled, 4, 3, expected, hq, wq);
        Assert.Equal(expected, flow);
    }

    // The vector paths (16 or 8 divisions, 8 or 4 float64 pool sums at a time, scalar tails)
    // against the contract written out per element: 20 and 12 channels leave tails after the
    // vectors, 24 takes a Vector256 step after a Vector512 one where AVX-512 is
    [Theory]
    [InlineData(20)]
    [InlineData(24)]
    [InlineData(12)]
    [InlineData(64)]
    public void VectorNormalizeAndPoolGiveTheContractsBits(int channels)
    {
        const int h = 7, w = 8;
        var r = new Random(channels);
        var x = Enumerable.Range(0, h * w * channels).Select(_ => (float)(r.NextDouble() * 6 - 3)).ToArray();
        var n = RefErMatching.Normalize(x, channels);
        for (int p = 0; p < h * w; p++)
        {
            double sum = 0;
            for (int c = 0; c < channels; c++) sum += (double)x[p * channels + c] * x[p * channels + c];
            float norm = MathF.Max((float)Math.Sqrt(sum), 1e-12f);
            for (int c = 0; c < channels; c++) Assert.Equal(x[p * channels + c] / norm, n[p * channels + c]);
        }
        var pooled = RefErMatching.AveragePool(n, h, w, channels);
        Assert.Equal(2 * 2 * channels, pooled.Length);
        for (int py = 0; py < 2; py++)
            for (int px = 0; px < 2; px++)
                for (int c = 0; c < channels; c++)
                {
                    double s = 0;
                    for (int ky = 0; ky < 3; ky++)
                        for (int kx = 0; kx < 3; kx++) s += n[((py * 3 + ky) * w + px * 3 + kx) * channels + c];
                    Assert.Equal((float)(s / 9), pooled[(py * 2 + px) * channels + c]);
                }
    }

    // PooledCodes divides while it pools (no normalised copy) and sums eight positions' norms in
    // vector lanes: the same codes as the three steps one after the other, on sizes whose
    // position counts leave lane tails (63, 130) and with a zero position (norm 1e-12)
    [Theory]
    [InlineData(7, 9, 64)]
    [InlineData(10, 13, 20)]
    public void FusedPooledCodesEqualTheSteps(int h, int w, int channels)
    {
        var r = new Random(h * w);
        var x = Enumerable.Range(0, h * w * channels).Select(_ => (float)(r.NextDouble() * 6 - 3)).ToArray();
        Array.Clear(x, 0, channels);
        foreach (int bits in new[] { 2, 4, 8 })
            Assert.Equal(RefErMatching.QuantizeUnit(RefErMatching.AveragePool(RefErMatching.Normalize(x, channels), h, w, channels), bits),
                RefErMatching.PooledCodes(x, h, w, channels, bits));
        var norms = RefErMatching.Norms(x, channels);
        for (int p = 0; p < h * w; p++)
        {
            double sum = 0;
            for (int c = 0; c < channels; c++) sum += (double)x[p * channels + c] * x[p * channels + c];
            Assert.Equal(MathF.Max((float)Math.Sqrt(sum), 1e-12f), norms[p]);
        }
    }

    [Fact]
    public void NormalizePoolAndQuantizeFollowTheContract()
    {
        var x = new float[3 * 3 * 2];
        for (int p = 0; p < 9; p++) { x[2 * p] = 3f * (p + 1); x[2 * p + 1] = 4f * (p + 1); }   // every position ∝ (0.6, 0.8)
        var n = RefErMatching.Normalize(x, 2);
        Assert.All(Enumerable.Range(0, 9), p => { Assert.Equal(0.6f, n[2 * p], 6); Assert.Equal(0.8f, n[2 * p + 1], 6); });
        var pooled = RefErMatching.AveragePool(n, 3, 3, 2);
        Assert.Equal(2, pooled.Length);
        Assert.Equal([(sbyte)4, (sbyte)6], RefErMatching.QuantizeUnit(pooled, 4));   // round(0.6·7) = 4, round(0.8·7) = 6
        Assert.Equal([(sbyte)0, (sbyte)0], RefErMatching.QuantizeUnit(RefErMatching.Normalize(new float[2], 2), 4));
    }

    [Fact]
    public void FeaturesSmallerThanThreePixelsPassThrough()
    {
        var net = SrResNet.Load(TestModels.File(TestModels.RefQsrConfig()));
        var block = net.RefEr[0];
        var fq = Feature(2, 7, 3);
        var before = (float[])fq.Clone();
        block.Forward(fq, 2, 7, Feature(6, 6, 4), 6, 6, 8, 4, 1, null);
        Assert.Equal(before, fq);
        fq = Feature(6, 6, 3);
        before = (float[])fq.Clone();
        block.Forward(fq, 6, 6, Feature(6, 2, 4), 2, 6, 8, 4, 1, null);   // reference too small: nothing to match
        Assert.Equal(before, fq);
    }

    [Fact]
    public void ForwardIsResidualOverTheWarpedDifference()
    {
        var net = SrResNet.Load(TestModels.File(TestModels.RefQsrConfig(QuantizerKind.Pams, 8, 3)));
        var block = net.RefEr[1];
        int h = 10, w = 12;
        var fq = Feature(h, w, 5);
        var fr = Feature(h, w, 6);
        var got = (float[])fq.Clone();
        var trace = new ForwardTrace();
        block.Forward(got, h, w, fr, h, w, 8, 3, 1, trace);
        Assert.Contains($"refer.{block.Index}.q1", trace.Codes.Keys);

        // the same steps written out with a float fake-quant conv
        var flow = RefErMatching.PixelFlow(fq, h, w, fr, h, w, 64, 3)!;
        var warped = new float[fq.Length];
        BilinearWarp.Run(fr, h, w, 64, flow, h, w, warped);
        var d = fq.Zip(warped, (a, b) => a - b).ToArray();
        var y = FakeQuantConv(block.Conv1, block.Q1.For(d, 64, 8), d, h, w);
        for (int i = 0; i < y.Length; i++) if (!(y[i] > 0)) y[i] *= block.Slope;
        var z = FakeQuantConv(block.Conv2, block.Q2.For(y, 64, 8), y, h, w);
        for (int i = 0; i < fq.Length; i++) Assert.Equal(fq[i] + z[i], got[i], 2e-3f);
        Assert.True(z.Max(MathF.Abs) > 1e-2f, "the RefER convs must change the feature");
    }

    static float[] FakeQuantConv(QuantizedConv conv, Quantization.Quantizer aq, float[] x, int h, int w)
    {
        var xq = x.Select(v => aq.Value(aq.Code(v))).ToArray();
        var wq = conv.WeightQuantizer(8);
        var y = new float[x.Length];
        FloatConv2d.Reference(xq, conv.At(8).Weights.UnpackOihw().Select(c => wq.Value(c)).ToArray(), y, new ConvShape(h, w, 64, 64, 3));
        return y;
    }
}
