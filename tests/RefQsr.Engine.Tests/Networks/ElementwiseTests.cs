using RefQsr.Engine.Networks;

namespace RefQsr.Engine.Tests.Networks;

/// <summary>The separate float passes (the tests' references for the fused epilogues; PReLU
/// vectorised for the head) against their per-value formulas, bit for bit (special values
/// included), with vector tails.</summary>
public class ElementwiseTests
{
    static float[] Values(int n, int seed)
    {
        var r = new Random(seed);
        var v = Enumerable.Range(0, n).Select(_ => (float)(r.NextDouble() * 200 - 100)).ToArray();
        float[] special = [0f, -0f, float.NaN, float.PositiveInfinity, float.NegativeInfinity, float.Epsilon, -float.Epsilon, 1e-40f, -3.5f];
        for (int i = 0; i < special.Length && i < n; i++) v[i * 7 % n] = special[i];
        return v;
    }

    [Theory]
    [InlineData(64, 37)]
    [InlineData(16, 5)]
    [InlineData(3, 11)]
    public void AffineIsAMultiplyThenAnAddPerValue(int channels, int pixels)
    {
        var r = new Random(channels);
        var gamma = Enumerable.Range(0, channels).Select(_ => (float)r.NextDouble() + 0.5f).ToArray();
        var beta = Enumerable.Range(0, channels).Select(_ => (float)r.NextDouble() - 0.5f).ToArray();
        var mean = Enumerable.Range(0, channels).Select(_ => (float)r.NextDouble()).ToArray();
        var var = Enumerable.Range(0, channels).Select(_ => (float)r.NextDouble() + 0.1f).ToArray();
        var bn = new Affine(gamma, beta, mean, var);
        var x = Values(channels * pixels, channels);
        var expected = x.Select((v, i) => v * bn.A[i % channels] + bn.B[i % channels]).ToArray();
        bn.Apply(x);
        Assert.Equal(expected, x);
    }

    [Theory]
    [InlineData(64 * 9 + 5)]
    [InlineData(7)]
    public void PReluAndAddMatchTheirFormulas(int n)
    {
        var x = Values(n, 1);
        var expected = x.Select(v => v > 0f ? v : 0.23f * v).ToArray();
        Elementwise.PRelu(x, 0.23f);
        Assert.Equal(expected, x);
        var y = Values(n, 2);
        var sum = x.Zip(y, (a, b) => a + b).ToArray();
        Elementwise.Add(x, y);
        Assert.Equal(sum, x);
        Assert.Throws<ArgumentException>(() => Elementwise.Add(x, new float[n - 1]));
    }
}
