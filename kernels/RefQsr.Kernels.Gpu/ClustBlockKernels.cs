using ILGPU;

namespace RefQsr.Kernels.Gpu;

/// <summary>RefQSR's ClustBlock on the device (docs/refqsr.md "ClustBlock"): its layers are
/// small (3→64 stride 3, 64→64, 64→32, fc 32→C), so one thread per output on unpacked codes
/// (one int per code, any channel count). The twin of <c>QuantConvStrided</c> (and of
/// <c>QuantConv3x3</c> + <c>QuantConvEpilogue</c>, which give the same integers): exact
/// int32/int64 totals, then (float)total·scale + bias and, between layers, ReLU.</summary>
public static class ClustBlockKernels
{
    /// <summary>codes[i] = the unsigned code of x[i] (code − QLo), one int each.</summary>
    public static void Quantize<TMath>(Index1D i, ArrayView<float> x, ArrayView<int> codes, QuantizerArgs q)
        where TMath : struct, IDeviceMath
    {
        float v = x[i];
        float c = v < q.Lo ? q.Lo : (v > q.Hi ? q.Hi : v);
        float r = default(TMath).RoundEven(default(TMath).Sub(default(TMath).Mul(c, q.S), q.Zp));
        int code = !(r >= q.QLo) ? q.QLo : (r > q.QHi ? q.QHi : (int)r);
        codes[i] = code - q.QLo;
    }

    /// <summary>output[(oy·OW + ox)·Cout + co] = act((float)total·scale + bias[co]) with total the
    /// zero-point-corrected integer conv over the valid taps; codes HWC, weights [Cout][Cin][k][k]
    /// signed codes; act is ReLU when <paramref name="relu"/> is not 0.</summary>
    public static void Conv<TMath>(Index1D i, ArrayView<int> codes, ArrayView<int> weights, ArrayView<float> bias, ArrayView<float> output,
        StridedConvDims d, int za, int zw, float scale, int relu)
        where TMath : struct, IDeviceMath
    {
        int co = i % d.OutChannels, p = i / d.OutChannels;
        int ow = d.OutWidth, oy = p / ow, ox = p - oy * ow, k = d.Kernel, cin = d.InChannels;
        int acc = 0, sumA = 0, sumW = 0, valid = 0;
        for (int ky = 0; ky < k; ky++)
        {
            int iy = oy * d.Stride + ky - d.Pad;
            if (iy < 0 || iy >= d.Height) continue;
            for (int kx = 0; kx < k; kx++)
            {
                int ix = ox * d.Stride + kx - d.Pad;
                if (ix < 0 || ix >= d.Width) continue;
                valid++;
                for (int ci = 0; ci < cin; ci++)
                {
                    int a = codes[(iy * d.Width + ix) * cin + ci];
                    int w = weights[((co * cin + ci) * k + ky) * k + kx];
                    acc += a * w;
                    sumA += a;
                    sumW += w;
                }
            }
        }
        long total = acc + (long)zw * sumA + (long)za * sumW + (long)za * zw * valid * cin;
        float v = default(TMath).Add(default(TMath).Mul((float)total, scale), bias[co]);
        output[i] = relu != 0 && !(v > 0f) ? 0f : v;
    }
}
