namespace RefQsr.Engine.Networks;

internal static class Elementwise
{
    public static void PRelu(Span<float> x, float slope)
    {
        for (int i = 0; i < x.Length; i++)
            if (!(x[i] > 0f)) x[i] = slope * x[i];
    }

    public static void Add(Span<float> x, ReadOnlySpan<float> y)
    {
        for (int i = 0; i < x.Length; i++) x[i] += y[i];
    }
}
