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
        for (int p = 0; p < hwc.Length / channels; p++)
        {
            var x = hwc.Slice(p * channels, channels);
            double sum = 0;
            for (int c = 0; c < channels; c++) sum += (double)x[c] * x[c];
            float n = MathF.Max((float)Math.Sqrt(sum), 1e-12f);
            // the divisions 16 at a time: IEEE division per lane, the same bits
            var o = r.AsSpan(p * channels, channels);
            int k = 0;
            if (Vector512.IsHardwareAccelerated)
                for (var nv = Vector512.Create(n); k + 16 <= channels; k += 16)
                    (Vector512.Create(x.Slice(k, 16)) / nv).CopyTo(o.Slice(k, 16));
            for (; k < channels; k++) o[k] = x[k] / n;
        }
        return r;
    }

    /// <summary>Step 2: 3x3 average pool, stride 3, remainder rows and columns dropped; the
    /// 9 values are summed in float64, row-major, divided by 9 and rounded once.</summary>
    public static float[] AveragePool(ReadOnlySpan<float> hwc, int height, int width, int channels)
    {
        int ph = PooledSize(height), pw = PooledSize(width);
        var r = new float[ph * pw * channels];
        int vec = Vector512.IsHardwareAccelerated ? channels & ~7 : 0;
        for (int py = 0; py < ph; py++)
            for (int px = 0; px < pw; px++)
            {
                // 8 channels at a time in float64: per channel the same sum in the same order
                for (int c = 0; c < vec; c += 8)
                {
                    var s = Vector512<double>.Zero;
                    for (int ky = 0; ky < Pool; ky++)
                        for (int kx = 0; kx < Pool; kx++)
                            s += Vector512.WidenLower(Vector256.Create(hwc.Slice(((py * Pool + ky) * width + px * Pool + kx) * channels + c, 8)).ToVector512Unsafe());
                    Vector512.Narrow(s / Vector512.Create((double)(Pool * Pool)), Vector512<double>.Zero).GetLower().CopyTo(r.AsSpan((py * pw + px) * channels + c, 8));
                }
                for (int c = vec; c < channels; c++)
                {
                    double s = 0;   // float64 sum and division, rounded once (docs/refqsr.md step 2)
                    for (int ky = 0; ky < Pool; ky++)
                        for (int kx = 0; kx < Pool; kx++)
                            s += hwc[((py * Pool + ky) * width + px * Pool + kx) * channels + c];
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
        => QuantizeUnit(AveragePool(Normalize(feature, channels), height, width, channels), bits);

    /// <summary>Steps 1–5: the pixel displacement field [hq][wq][2] = (u, v) that warps the
    /// reference onto the query, or null when either feature is smaller than 3 px in a
    /// dimension (no pooled grid: the RefER block passes the query through).</summary>
    public static float[]? PixelFlow(ReadOnlySpan<float> query, int hq, int wq, ReadOnlySpan<float> reference, int hr, int wr,
        int channels, int bits, int threads = 1)
    {
        if (PooledSize(hr) == 0 || PooledSize(wr) == 0) return null;
        return PixelFlow(query, hq, wq, PooledCodes(reference, hr, wr, channels, bits), hr, wr, channels, bits, threads);
    }

    /// <summary>As above with the reference's pooled codes (<see cref="PooledCodes"/>) already
    /// made: a reference serves every query of its group, so the schedule makes them once.</summary>
    public static float[]? PixelFlow(ReadOnlySpan<float> query, int hq, int wq, sbyte[] referenceCodes, int hr, int wr,
        int channels, int bits, int threads = 1)
    {
        int pqh = PooledSize(hq), pqw = PooledSize(wq), prh = PooledSize(hr), prw = PooledSize(wr);
        if (pqh == 0 || pqw == 0 || prh == 0 || prw == 0) return null;
        if (referenceCodes.Length != prh * prw * channels)
            throw new ArgumentException($"reference codes: {referenceCodes.Length} values for a {prw}x{prh}x{channels} pooled grid");
        var cq = PooledCodes(query, hq, wq, channels, bits);
        var cr = referenceCodes;
        var match = new int[pqh * pqw];
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
