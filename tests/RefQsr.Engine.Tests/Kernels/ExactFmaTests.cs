using System.Runtime.Intrinsics;
using RefQsr.Kernels;

namespace RefQsr.Engine.Tests.Kernels;

/// <summary><see cref="ExactFma.Emulated"/> gives MathF.FusedMultiplyAdd's bits (one
/// rounding) on every CPU. The FP32 kernels' Vector128 paths take it wherever there is no FMA
/// instruction, which CI's pass with AVX2 off exercises through every kernel test.</summary>
public sealed class ExactFmaTests
{
    static float P2(int e) => MathF.ScaleB(1f, e);

    static float Emulated(float a, float b, float c) => ExactFma.Emulated(Vector128.Create(a), Vector128.Create(b), Vector128.Create(c)).GetElement(0);

    static void AssertSameBits(float a, float b, float c)
    {
        float want = MathF.FusedMultiplyAdd(a, b, c), got = Emulated(a, b, c);
        if (float.IsNaN(want)) Assert.True(float.IsNaN(got), $"fma({a:R}, {b:R}, {c:R}) = NaN, emulated {got:R}");
        else Assert.True(BitConverter.SingleToInt32Bits(want) == BitConverter.SingleToInt32Bits(got), $"fma({a:R}, {b:R}, {c:R}) = {want:R}, emulated {got:R}");
    }

    [Fact]
    public void LanesAreIndependent()
    {
        var a = Vector128.Create(1.5f, -2f, 3e-20f, 7f);
        var b = Vector128.Create(0.1f, 0.3f, 5e-20f, -1f);
        var c = Vector128.Create(1f, 0.7f, -1e-39f, 7f);
        var got = ExactFma.Emulated(a, b, c);
        for (int i = 0; i < 4; i++)
            Assert.Equal(MathF.FusedMultiplyAdd(a[i], b[i], c[i]), got[i]);
    }

    [Fact]
    public void RandomOperandsAndNearCancellation()
    {
        var rng = new Random(5);
        float R(int range) => (float)((rng.NextDouble() * 2 - 1) * Math.Pow(2, rng.Next(-range, range)));
        for (int i = 0; i < 200_000; i++)
        {
            float a = R(60), b = R(60);
            // a third of the time c nearly cancels a·b, where rounding errors show most
            float c = (i % 3) switch { 0 => -(a * b) * (1 + R(20) * 1e-7f), 1 => R(60), _ => R(130) };
            AssertSameBits(a, b, c);
        }
    }

    [Fact]
    public void DoubleRoundingCasesAreRoundedOnce()
    {
        // (1 + i·2^-12)(1 + j·2^-12) is often exactly halfway between two floats, and ±2^-80
        // then decides the rounding; a double sum loses it (rounds to the midpoint, then to even)
        int naiveWrong = 0;
        foreach (float tiny in new[] { P2(-80), -P2(-80), P2(-60), -P2(-60) })
            for (int i = 1; i <= 64; i++)
                for (int j = 1; j <= 64; j++)
                {
                    float a = 1 + i * P2(-12), b = 1 + j * P2(-12);
                    AssertSameBits(a, b, tiny);
                    AssertSameBits(-a, b, tiny);
                    if ((float)((double)a * b + tiny) != MathF.FusedMultiplyAdd(a, b, tiny)) naiveWrong++;
                }
        Assert.True(naiveWrong > 100, $"only {naiveWrong} cases where rounding twice differs: the test lost its hard cases");
    }

    [Fact]
    public void SpecialValues()
    {
        float[] v = [0f, -0f, 1f, -1f, float.Epsilon, -float.Epsilon, 1e-38f, float.MaxValue, -float.MaxValue,
                     float.PositiveInfinity, float.NegativeInfinity, float.NaN, 3f, 0.1f];
        foreach (var a in v) foreach (var b in v) foreach (var c in v) AssertSameBits(a, b, c);
    }

    [Fact]
    public void SubnormalResults()
    {
        var rng = new Random(9);
        for (int i = 0; i < 50_000; i++)
        {
            float a = (float)rng.NextDouble() * P2(-70), b = (float)(rng.NextDouble() - 0.5) * P2(-70);
            AssertSameBits(a, b, (float)((rng.NextDouble() - 0.5) * Math.ScaleB(1, -130)));
        }
    }
}
