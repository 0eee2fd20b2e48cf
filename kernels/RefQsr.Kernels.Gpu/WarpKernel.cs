using ILGPU;

namespace RefQsr.Kernels.Gpu;

/// <summary>RefER step 6 on the device, the twin of <c>BilinearWarp</c>: backward bilinear
/// warp of an HWC feature by a pixel displacement field, taps outside the source reading 0,
/// the four weights and the accumulation (nw, ne, sw, se, starting from 0) rounded as on the
/// CPU. One thread per output value.</summary>
public static class WarpKernel
{
    /// <summary>output[(y·W + x)·C + c] = bilinear(source, x + u, y + v) for channel c; the
    /// source is sourceHeight x sourceWidth, the flow and output height x width.</summary>
    public static void Warp<TMath>(Index1D i, ArrayView<float> source, ArrayView<float> flow, ArrayView<float> output,
        int sourceHeight, int sourceWidth, int width, int channels)
        where TMath : struct, IDeviceMath
    {
        int c = i % channels, p = i / channels;
        int y = p / width, x = p - y * width;
        float ix = default(TMath).Add(x, flow[2 * p]), iy = default(TMath).Add(y, flow[2 * p + 1]);
        float o = 0f;
        if (IsFinite(ix) && IsFinite(iy))
        {
            float fx0 = default(TMath).Floor(ix), fy0 = default(TMath).Floor(iy);
            float fx1 = default(TMath).Add(fx0, 1f), fy1 = default(TMath).Add(fy0, 1f);
            float wx0 = default(TMath).Sub(fx1, ix), wx1 = default(TMath).Sub(ix, fx0);
            float wy0 = default(TMath).Sub(fy1, iy), wy1 = default(TMath).Sub(iy, fy0);
            // outside by more than a pixel: every tap reads 0 (also keeps the int casts in range)
            if (!(fx1 < 0 || fy1 < 0 || fx0 > sourceWidth - 1 || fy0 > sourceHeight - 1))
            {
                int x0 = (int)fx0, y0 = (int)fy0;
                o = Tap<TMath>(o, source, sourceHeight, sourceWidth, channels, x0, y0, c, default(TMath).Mul(wx0, wy0));
                o = Tap<TMath>(o, source, sourceHeight, sourceWidth, channels, x0 + 1, y0, c, default(TMath).Mul(wx1, wy0));
                o = Tap<TMath>(o, source, sourceHeight, sourceWidth, channels, x0, y0 + 1, c, default(TMath).Mul(wx0, wy1));
                o = Tap<TMath>(o, source, sourceHeight, sourceWidth, channels, x0 + 1, y0 + 1, c, default(TMath).Mul(wx1, wy1));
            }
        }
        output[i] = o;
    }

    static bool IsFinite(float v) => (Interop.FloatAsInt(v) & 0x7F800000) != 0x7F800000;

    static float Tap<TMath>(float o, ArrayView<float> source, int h, int w, int channels, int x, int y, int c, float weight)
        where TMath : struct, IDeviceMath
    {
        if (x < 0 || x >= w || y < 0 || y >= h) return o;
        return default(TMath).Add(o, default(TMath).Mul(source[(y * w + x) * channels + c], weight));
    }
}
