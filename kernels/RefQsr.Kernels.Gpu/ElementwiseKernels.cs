using ILGPU;

namespace RefQsr.Kernels.Gpu;

/// <summary>The FP32 element-wise steps between convs, each one rounding per operation as
/// the CPU engine does (BN affine y·a + b never fused into an FMA).</summary>
public static class ElementwiseKernels
{
    /// <summary>x = x·a[c] + b[c] on HWC data with <paramref name="channels"/> channels (eval BN).</summary>
    public static void Affine<TMath>(Index1D i, ArrayView<float> x, ArrayView<float> a, ArrayView<float> b, int channels)
        where TMath : struct, IDeviceMath
    {
        int c = i % channels;
        x[i] = default(TMath).Add(default(TMath).Mul(x[i], a[c]), b[c]);
    }

    /// <summary>x = x > 0 ? x : slope·x.</summary>
    public static void PRelu<TMath>(Index1D i, ArrayView<float> x, float slope)
        where TMath : struct, IDeviceMath
    {
        float v = x[i];
        if (!(v > 0f)) x[i] = default(TMath).Mul(slope, v);
    }

    /// <summary>x = x + y (skip connections).</summary>
    public static void Add<TMath>(Index1D i, ArrayView<float> x, ArrayView<float> y)
        where TMath : struct, IDeviceMath
        => x[i] = default(TMath).Add(x[i], y[i]);

    /// <summary>y = x − y (RefER's difference of the query and the warped reference).</summary>
    public static void SubtractFrom<TMath>(Index1D i, ArrayView<float> x, ArrayView<float> y)
        where TMath : struct, IDeviceMath
        => y[i] = default(TMath).Sub(x[i], y[i]);

    /// <summary>PyTorch PixelShuffle(r) on HWC: input channel c·r² + a·r + b of pixel (y, x) goes to
    /// output channel c of pixel (y·r + a, x·r + b). One thread per output value.</summary>
    public static void PixelShuffle(Index1D i, ArrayView<float> input, ArrayView<float> output, int height, int width, int inChannels, int r)
    {
        int c = inChannels / (r * r), ow = width * r;
        int ch = i % c, op = i / c;
        int oy = op / ow, ox = op - oy * ow;
        int y = oy / r, a = oy - y * r, x = ox / r, b = ox - x * r;
        output[i] = input[(y * width + x) * inChannels + ch * r * r + a * r + b];
    }
}
