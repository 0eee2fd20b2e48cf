using System.Runtime.Intrinsics;

namespace RefQsr.Engine.Networks;

internal static class Elementwise
{
    /// <summary>x stays where x &gt; 0, else slope·x (NaN included), 16 or 8 values at a time.</summary>
    public static void PRelu(Span<float> x, float slope)
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
            for (var s = Vector512.Create(slope); i + 16 <= x.Length; i += 16)
            {
                var v = Vector512.Create(x.Slice(i, 16));
                Vector512.ConditionalSelect(Vector512.GreaterThan(v, Vector512<float>.Zero), v, s * v).CopyTo(x.Slice(i, 16));
            }
        else if (Vector256.IsHardwareAccelerated)
            for (var s = Vector256.Create(slope); i + 8 <= x.Length; i += 8)
            {
                var v = Vector256.Create(x.Slice(i, 8));
                Vector256.ConditionalSelect(Vector256.GreaterThan(v, Vector256<float>.Zero), v, s * v).CopyTo(x.Slice(i, 8));
            }
        for (; i < x.Length; i++)
            if (!(x[i] > 0f)) x[i] = slope * x[i];
    }

    public static void Add(Span<float> x, ReadOnlySpan<float> y)
    {
        if (y.Length < x.Length) throw new ArgumentException($"add: {y.Length} values to add to {x.Length}");
        for (int i = 0; i < x.Length; i++) x[i] += y[i];
    }
}
