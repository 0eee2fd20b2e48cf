using RefQsr.Kernels;

namespace RefQsr.Engine.Tests.Kernels;

/// <summary>An FP32 conv with its epilogue (BN affine, PReLU, skip) against the conv followed by
/// the steps written out per value: bit for bit, on the Winograd path (fused into the inverse
/// transform) and on the direct one (separate passes), with the residual in place or not.</summary>
public class FloatConvEpilogueTests
{
    static float[] Random(int n, int seed, float scale)
    {
        var r = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => (float)(r.NextDouble() * 2 - 1) * scale).ToArray();
    }

    [Theory]
    [InlineData(9, 13, 64, 64, 3)]    // Winograd on AVX-512
    [InlineData(5, 6, 32, 32, 3)]     // direct: 32 output channels
    [InlineData(4, 7, 3, 64, 9)]      // direct: the 9x9 head
    public void FusedEqualsConvThenSteps(int h, int w, int cin, int cout, int k)
    {
        var s = new ConvShape(h, w, cin, cout, k);
        var x = Random(s.InputLength, 1, 10f);
        var wt = new FloatConvWeights(Random(s.WeightLength, 2, 0.05f), cout, cin, k);
        var a = Random(cout, 3, 1.5f);
        var b = Random(cout, 4, 0.5f);
        var skip = Random(s.OutputLength, 5, 3f);
        var conv = new float[s.OutputLength];
        FloatConv2d.Run(x, wt, conv, h, w, 1);

        foreach (var (prelu, residual) in new[] { (true, false), (false, true), (true, true) })
        {
            var expected = new float[conv.Length];
            for (int i = 0; i < conv.Length; i++)
            {
                float v = conv[i] * a[i % cout] + b[i % cout];
                if (prelu && !(v > 0f)) v = 0.2f * v;
                if (residual) v = skip[i] + v;
                expected[i] = v;
            }
            foreach (int threads in new[] { 1, 3 })
            {
                // the residual updated in place, as the ResBlock's conv2 does
                var output = residual ? (float[])skip.Clone() : new float[conv.Length];
                var ops = new FloatEpilogue { AffineA = a, AffineB = b, PReluSlope = prelu ? 0.2f : null, Residual = residual ? output : null };
                FloatConv2d.RunWithEpilogue(x, wt, output, h, w, threads, ops);
                Assert.Equal(expected, output);
            }
        }
    }

    [Fact]
    public void BadEpiloguesAreRejected()
    {
        var wt = new FloatConvWeights(new float[64 * 64 * 9], 64, 64, 3);
        var x = new float[2 * 2 * 64];
        var o = new float[2 * 2 * 64];
        Assert.Throws<ArgumentException>(() => FloatConv2d.RunWithEpilogue(x, wt, o, 2, 2, 1, new FloatEpilogue { AffineA = new float[64] }));
        Assert.Throws<ArgumentException>(() => FloatConv2d.RunWithEpilogue(x, wt, o, 2, 2, 1, new FloatEpilogue { AffineA = new float[8], AffineB = new float[8] }));
        Assert.Throws<ArgumentException>(() => FloatConv2d.RunWithEpilogue(x, wt, o, 2, 2, 1, new FloatEpilogue { Residual = new float[3] }));
        Assert.Throws<ArgumentException>(() => FloatConv2d.RunWithEpilogue(o, wt, o, 2, 2, 1, default));
    }
}
