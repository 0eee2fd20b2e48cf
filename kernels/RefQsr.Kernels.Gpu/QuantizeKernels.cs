using ILGPU;

namespace RefQsr.Kernels.Gpu;

/// <summary>Device twin of <c>Quantizer.UnsignedCode</c>: the same float32 operations in the
/// same order (clip, one multiply, one subtract, round half to even, clamp; NaN → QLo),
/// four channels packed per int for the conv kernels.</summary>
public static class QuantizeKernels
{
    /// <summary>codes[word] for word = pixel·C/4 + g holds channels 4g .. 4g+3 of that pixel.</summary>
    public static void Quantize<TMath>(Index1D word, ArrayView<float> x, ArrayView<int> codes, QuantizerArgs q)
        where TMath : struct, IDeviceMath
    {
        int packed = 0;
        for (int k = 0; k < 4; k++)
        {
            float v = x[word * 4 + k];
            float c = v < q.Lo ? q.Lo : (v > q.Hi ? q.Hi : v);
            float t = default(TMath).Add(default(TMath).Mul(c, q.S), -q.Zp);
            float r = default(TMath).RoundEven(t);
            int code = !(r >= q.QLo) ? q.QLo : (r > q.QHi ? q.QHi : (int)r);
            packed |= ((code - q.QLo) & 0xFF) << (8 * k);
        }
        codes[word] = packed;
    }

    /// <summary>DDTB gate input: means[c] = (float)(Σ_p x[p·C + c] / pixels), summed in float64 in
    /// pixel order exactly as the CPU gate does. One thread per channel.</summary>
    public static void ChannelMeans(Index1D c, ArrayView<float> x, ArrayView<float> means, int pixels, int channels)
    {
        double sum = 0;
        for (int p = 0; p < pixels; p++) sum += x[p * channels + c];
        means[c] = (float)(sum / pixels);
    }
}
