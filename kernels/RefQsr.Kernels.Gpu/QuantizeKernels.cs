using ILGPU;

namespace RefQsr.Kernels.Gpu;

/// <summary>Device twin of <c>Quantizer.UnsignedCode</c>: the same float32 operations in the
/// same order (clip, one multiply, one subtract, round half to even, clamp; NaN → QLo),
/// four channels packed per int for the conv kernels.</summary>
public static class QuantizeKernels
{
    /// <summary>codes[word] for word = pixel·C/4 + g holds channels 4g .. 4g+3 of that pixel; the
    /// quantizer is <paramref name="shared"/> or, per <paramref name="select"/>, the sample's
    /// entry of <paramref name="perSample"/>.</summary>
    public static void Quantize<TMath>(Index1D word, ArrayView<float> x, ArrayView<int> codes, QuantizerArgs shared,
        ArrayView<QuantizerArgs> perSample, SampleSelect select)
        where TMath : struct, IDeviceMath
    {
        int n = select.Of(word);
        var q = n >= 0 ? perSample[n] : shared;
        int packed = 0;
        for (int k = 0; k < 4; k++) packed |= Code<TMath>(x[word * 4 + k], q) << (8 * k);
        codes[word] = packed;
    }

    /// <summary>One activation's unsigned code (0..255).</summary>
    public static int Code<TMath>(float v, QuantizerArgs q)
        where TMath : struct, IDeviceMath
    {
        float c = v < q.Lo ? q.Lo : (v > q.Hi ? q.Hi : v);
        float t = default(TMath).Add(default(TMath).Mul(c, q.S), -q.Zp);
        float r = default(TMath).RoundEven(t);
        int code = !(r >= q.QLo) ? q.QLo : (r > q.QHi ? q.QHi : (int)r);
        return (code - q.QLo) & 0xFF;
    }

    /// <summary>DDTB gate input: means[n·C + c] = (float)(Σ_p x[(n·pixels + p)·C + c] / pixels), summed
    /// in float64 in pixel order exactly as the CPU gate does. One thread per (sample, channel).</summary>
    public static void ChannelMeans(Index1D i, ArrayView<float> x, ArrayView<float> means, int pixels, int channels)
    {
        int n = i / channels, c = i - n * channels;
        long first = (long)n * pixels;
        double sum = 0;
        for (int p = 0; p < pixels; p++) sum += x[(first + p) * channels + c];
        means[i] = (float)(sum / pixels);
    }
}
