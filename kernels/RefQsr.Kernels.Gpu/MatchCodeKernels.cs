using ILGPU;

namespace RefQsr.Kernels.Gpu;

/// <summary>RefER steps 1–3 (docs/refqsr.md) on the device, the twin of
/// <c>RefErMatching.PooledCodes</c>: per-pixel L2 norms, then the 3x3/3 average pool of the
/// normalised feature quantized to signed b_low codes on [−1, 1], four channels packed per
/// int for the cost volume. Same roundings as the CPU: float64 squares and sums, one float32
/// division per value, float64 pool sum divided by 9 and rounded once.</summary>
public static class MatchCodeKernels
{
    /// <summary>norms[p] = max((float)sqrt(Σ_c (double)x²), 1e-12) for HWC data; one thread per pixel.</summary>
    public static void PixelNorms<TMath>(Index1D p, ArrayView<float> x, ArrayView<float> norms, int channels)
        where TMath : struct, IDeviceMath
    {
        double sum = 0;
        for (int c = 0; c < channels; c++)
        {
            double v = x[p * channels + c];
            sum = default(TMath).AddF64(sum, default(TMath).MulF64(v, v));
        }
        float n = (float)Math.Sqrt(sum);
        // MathF.Max(n, 1e-12f), NaN kept as the CPU keeps it
        norms[p] = n < 1e-12f ? 1e-12f : n;
    }

    /// <summary>codes[pp·C/4 + g] packs the signed codes of channels 4g .. 4g+3 at pooled position pp
    /// (row-major over the floor(H/3) x floor(W/3) grid); one thread per packed word.
    /// <paramref name="q"/> is the symmetric unit quantizer (Lo −1, Hi 1, S = qmax, Zp 0).</summary>
    public static void PooledCodes<TMath>(Index1D word, ArrayView<float> x, ArrayView<float> norms, ArrayView<int> codes,
        int width, int channels, QuantizerArgs q)
        where TMath : struct, IDeviceMath
    {
        int words = channels / 4, pw = width / 3;
        int pp = word / words, g = word - pp * words;
        int py = pp / pw, px = pp - py * pw;
        int packed = 0;
        for (int k = 0; k < 4; k++)
        {
            int c = 4 * g + k;
            double s = 0;
            for (int ky = 0; ky < 3; ky++)
                for (int kx = 0; kx < 3; kx++)
                {
                    int p = (py * 3 + ky) * width + px * 3 + kx;
                    s = default(TMath).AddF64(s, x[p * channels + c] / norms[p]);
                }
            float v = (float)(s / 9.0);
            float clipped = v < q.Lo ? q.Lo : (v > q.Hi ? q.Hi : v);
            float r = default(TMath).RoundEven(default(TMath).Sub(default(TMath).Mul(clipped, q.S), q.Zp));
            int code = !(r >= q.QLo) ? q.QLo : (r > q.QHi ? q.QHi : (int)r);
            packed |= (code & 0xFF) << (8 * k);
        }
        codes[word] = packed;
    }
}
