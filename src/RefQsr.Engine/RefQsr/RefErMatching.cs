using System.Runtime.Intrinsics;
using RefQsr.Engine.Quantization;
using RefQsr.Kernels;

namespace RefQsr.Engine.RefQsr;

/// <summary>RefER steps 1–5 (docs/refqsr.md): normalise, pool 3x3/3, quantize to b_low on
/// [−1, 1], argmax cost volume, displacement upsampled to the query's feature size in
/// pixels. Arithmetic: float32 except the squared-norm sum (float64).</summary>
public static class RefErMatching
{
    public const int Pool = 3;

    /// <summary>Pooled size along one axis: floor(size / 3), as avg_pool2d(3, 3).</summary>
    public static int PooledSize(int size) => size / Pool;

    /// <summary>Step 1: x / max(‖x‖, 1e-12) at every position, with ‖x‖ = sqrt of a float64
    /// sum of squares, rounded to float32.</summary>
    public static float[] Normalize(ReadOnlySpan<float> hwc, int channels)
    {
        var r = new float[hwc.Length];
        var norms = Norms(hwc, channels);
        for (int p = 0; p < hwc.Length / channels; p++)
        {
            var x = hwc.Slice(p * channels, channels);
            float n = norms[p];
            // the divisions 16 at a time: IEEE division per lane, the same bits
            var o = r.AsSpan(p * channels, channels);
            int k = 0;
            if (Vector512.IsHardwareAccelerated)
                for (var nv = Vector512.Create(n); k + 16 <= channels; k += 16)
                    (Vector512.Create(x.Slice(k, 16)) / nv).CopyTo(o.Slice(k, 16));
            else if (Vector256.IsHardwareAccelerated)
                for (var nv = Vector256.Create(n); k + 8 <= channels; k += 8)
                    (Vector256.Create(x.Slice(k, 8)) / nv).CopyTo(o.Slice(k, 8));
            for (; k < channels; k++) o[k] = x[k] / n;
        }
        return r;
    }

    /// <summary>Step 1's divisor at every position: max(sqrt(Σ_c x²) in float64, rounded to
    /// float32, 1e-12). Eight positions' sums run side by side in the lanes of a float64
    /// vector (two of four without AVX-512; gathered a channel at a time), else four in
    /// scalars: the float64 adds are a dependency chain. Each is still summed over c in order,
    /// each square and add rounded separately, so the same bits as one position at a time.</summary>
    public static unsafe float[] Norms(ReadOnlySpan<float> hwc, int channels)
    {
        int n = hwc.Length / channels;
        var norms = new float[n];
        int p = 0;
        if (System.Runtime.Intrinsics.X86.Avx512F.IsSupported && (long)8 * channels < int.MaxValue)
        {
            var idx = Vector256.Create(0, 1, 2, 3, 4, 5, 6, 7) * channels;
            fixed (float* px = hwc)
                for (; p + 8 <= n; p += 8)
                {
                    var sum = Vector512<double>.Zero;
                    float* b = px + (long)p * channels;
                    for (int c = 0; c < channels; c++)
                    {
                        var d = System.Runtime.Intrinsics.X86.Avx512F.ConvertToVector512Double(System.Runtime.Intrinsics.X86.Avx2.GatherVector256(b + c, idx, 4));
                        sum += d * d;
                    }
                    for (int l = 0; l < 8; l++) norms[p + l] = Norm(sum.GetElement(l));
                }
        }
        else if (System.Runtime.Intrinsics.X86.Avx2.IsSupported && (long)8 * channels < int.MaxValue)
        {
            // the same eight positions in two Vector256<double> of four
            var idx = Vector256.Create(0, 1, 2, 3, 4, 5, 6, 7) * channels;
            fixed (float* px = hwc)
                for (; p + 8 <= n; p += 8)
                {
                    Vector256<double> lo = Vector256<double>.Zero, hi = Vector256<double>.Zero;
                    float* b = px + (long)p * channels;
                    for (int c = 0; c < channels; c++)
                    {
                        var g = System.Runtime.Intrinsics.X86.Avx2.GatherVector256(b + c, idx, 4);
                        var dl = System.Runtime.Intrinsics.X86.Avx.ConvertToVector256Double(g.GetLower());
                        var dh = System.Runtime.Intrinsics.X86.Avx.ConvertToVector256Double(g.GetUpper());
                        lo += dl * dl;
                        hi += dh * dh;
                    }
                    for (int l = 0; l < 4; l++)
                    {
                        norms[p + l] = Norm(lo.GetElement(l));
                        norms[p + 4 + l] = Norm(hi.GetElement(l));
                    }
                }
        }
        for (; p + 4 <= n; p += 4)
        {
            var x0 = hwc.Slice(p * channels, channels); var x1 = hwc.Slice((p + 1) * channels, channels);
            var x2 = hwc.Slice((p + 2) * channels, channels); var x3 = hwc.Slice((p + 3) * channels, channels);
            double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
            for (int c = 0; c < channels; c++)
            {
                s0 += (double)x0[c] * x0[c]; s1 += (double)x1[c] * x1[c];
                s2 += (double)x2[c] * x2[c]; s3 += (double)x3[c] * x3[c];
            }
            norms[p] = Norm(s0); norms[p + 1] = Norm(s1); norms[p + 2] = Norm(s2); norms[p + 3] = Norm(s3);
        }
        for (; p < n; p++)
        {
            var x = hwc.Slice(p * channels, channels);
            double sum = 0;
            for (int c = 0; c < channels; c++) sum += (double)x[c] * x[c];
            norms[p] = Norm(sum);
        }
        return norms;
    }

    static float Norm(double sumOfSquares) => MathF.Max((float)Math.Sqrt(sumOfSquares), 1e-12f);

    /// <summary>Step 2: 3x3 average pool, stride 3, remainder rows and columns dropped; the
    /// 9 values are summed in float64, row-major, divided by 9 and rounded once.</summary>
    public static float[] AveragePool(ReadOnlySpan<float> hwc, int height, int width, int channels)
        => AveragePool(hwc, null, height, width, channels);

    /// <summary>Steps 1 and 2 in one pass when <paramref name="norms"/> is given: each value is
    /// divided by its position's norm (the same float32 division as <see cref="Normalize"/>)
    /// as it is pooled, so the normalised feature is never stored.</summary>
    static float[] AveragePool(ReadOnlySpan<float> hwc, float[]? norms, int height, int width, int channels)
    {
        int ph = PooledSize(height), pw = PooledSize(width);
        var r = new float[ph * pw * channels];
        int vec = Vector512.IsHardwareAccelerated ? channels & ~15 : 0;
        int vec256 = Vector256.IsHardwareAccelerated ? vec + ((channels - vec) & ~7) : vec;   // 8 more where 16 do not fit
        var nine = Vector512.Create((double)(Pool * Pool));
        var nine256 = Vector256.Create((double)(Pool * Pool));
        for (int py = 0; py < ph; py++)
            for (int px = 0; px < pw; px++)
            {
                // 16 (else 8) channels at a time (one float32 division per tap), summed as two
                // halves in float64: per channel the same sum in the same order
                for (int c = 0; c < vec; c += 16)
                {
                    Vector512<double> lo = Vector512<double>.Zero, hi = Vector512<double>.Zero;
                    for (int ky = 0; ky < Pool; ky++)
                        for (int kx = 0; kx < Pool; kx++)
                        {
                            int pos = (py * Pool + ky) * width + px * Pool + kx;
                            var v = Vector512.Create(hwc.Slice(pos * channels + c, 16));
                            if (norms is not null) v /= Vector512.Create(norms[pos]);
                            var (l, h) = Vector512.Widen(v);
                            lo += l; hi += h;
                        }
                    Vector512.Narrow(lo / nine, hi / nine).CopyTo(r.AsSpan((py * pw + px) * channels + c, 16));
                }
                for (int c = vec; c < vec256; c += 8)
                {
                    Vector256<double> lo = Vector256<double>.Zero, hi = Vector256<double>.Zero;
                    for (int ky = 0; ky < Pool; ky++)
                        for (int kx = 0; kx < Pool; kx++)
                        {
                            int pos = (py * Pool + ky) * width + px * Pool + kx;
                            var v = Vector256.Create(hwc.Slice(pos * channels + c, 8));
                            if (norms is not null) v /= Vector256.Create(norms[pos]);
                            var (l, h) = Vector256.Widen(v);
                            lo += l; hi += h;
                        }
                    Vector256.Narrow(lo / nine256, hi / nine256).CopyTo(r.AsSpan((py * pw + px) * channels + c, 8));
                }
                for (int c = vec256; c < channels; c++)
                {
                    double s = 0;   // float64 sum and division, rounded once (docs/refqsr.md step 2)
                    for (int ky = 0; ky < Pool; ky++)
                        for (int kx = 0; kx < Pool; kx++)
                        {
                            int pos = (py * Pool + ky) * width + px * Pool + kx;
                            s += norms is null ? hwc[pos * channels + c] : hwc[pos * channels + c] / norms[pos];
                        }
                    r[(py * pw + px) * channels + c] = (float)(s / (Pool * Pool));
                }
            }
        return r;
    }

    /// <summary>Step 3: signed codes of a PAMS quantizer with alpha 1 at <paramref name="bits"/>.</summary>
    public static sbyte[] QuantizeUnit(ReadOnlySpan<float> values, int bits)
    {
        var q = Quantizer.Symmetric(1f, bits);
        var r = new sbyte[values.Length];
        for (int i = 0; i < r.Length; i++) r[i] = (sbyte)q.Code(values[i]);
        return r;
    }

    /// <summary>Steps 1–3 on one feature: its pooled b_low codes [ph·pw][channels].</summary>
    public static sbyte[] PooledCodes(ReadOnlySpan<float> feature, int height, int width, int channels, int bits)
        => QuantizeUnit(AveragePool(feature, Norms(feature, channels), height, width, channels), bits);

    /// <summary>Steps 1–5: the pixel displacement field [hq][wq][2] = (u, v) that warps the
    /// reference onto the query, or null when either feature is smaller than 3 px in a
    /// dimension (no pooled grid: the RefER block passes the query through).</summary>
    public static float[]? PixelFlow(ReadOnlySpan<float> query, int hq, int wq, ReadOnlySpan<float> reference, int hr, int wr,
        int channels, int bits, int threads = 1)
        => ReferenceCodes(reference, hr, wr, channels, bits) is { } codes ? PixelFlow(query, hq, wq, codes, hr, wr, channels, bits, threads) : null;

    /// <summary>A reference feature's pooled codes (<see cref="PooledCodes"/>), or null when it
    /// is smaller than 3 px in a dimension (no pooled grid, nothing to match against).</summary>
    public static sbyte[]? ReferenceCodes(ReadOnlySpan<float> reference, int height, int width, int channels, int bits)
        => PooledSize(height) == 0 || PooledSize(width) == 0 ? null : PooledCodes(reference, height, width, channels, bits);

    /// <summary>As above with the reference's pooled codes (<see cref="PooledCodes"/>) already
    /// made: a reference serves every query of its group, so the schedule makes them once.</summary>
    public static float[]? PixelFlow(ReadOnlySpan<float> query, int hq, int wq, sbyte[] referenceCodes, int hr, int wr,
        int channels, int bits, int threads = 1) => PixelFlow(query, hq, wq, referenceCodes, hr, wr, channels, bits, threads, out _);

    /// <summary>As above, also giving the argmax <paramref name="match"/> (for every pooled
    /// query position, row-major, the flat index of the pooled reference position); null with
    /// the flow.</summary>
    public static float[]? PixelFlow(ReadOnlySpan<float> query, int hq, int wq, sbyte[] referenceCodes, int hr, int wr,
        int channels, int bits, int threads, out int[]? match)
    {
        match = null;
        int pqh = PooledSize(hq), pqw = PooledSize(wq), prh = PooledSize(hr), prw = PooledSize(wr);
        if (pqh == 0 || pqw == 0 || prh == 0 || prw == 0) return null;
        if (referenceCodes.Length != prh * prw * channels)
            throw new ArgumentException($"reference codes: {referenceCodes.Length} values for a {prw}x{prh}x{channels} pooled grid");
        var cq = PooledCodes(query, hq, wq, channels, bits);
        var cr = referenceCodes;
        match = new int[pqh * pqw];
        ArgmaxCostVolume.Run(cq, cr, channels, match, threads);
        var pooledFlow = PooledFlow(match, pqh, pqw, prw);
        var flow = new float[hq * wq * 2];
        FlowUpsample.Run(pooledFlow, pqh, pqw, flow, hq, wq, FlowUpsample.PoolFactor);
        return flow;
    }

    /// <summary>Step 5's displacement in pooled units: pos(match(i)) − pos(i), (x, y).</summary>
    public static float[] PooledFlow(ReadOnlySpan<int> match, int pooledHeight, int pooledWidth, int referencePooledWidth)
    {
        var d = new float[pooledHeight * pooledWidth * 2];
        for (int i = 0; i < pooledHeight * pooledWidth; i++)
        {
            int j = match[i];
            d[2 * i] = j % referencePooledWidth - i % pooledWidth;
            d[2 * i + 1] = j / referencePooledWidth - i / pooledWidth;
        }
        return d;
    }
}
