using ILGPU;

namespace RefQsr.Kernels.Gpu;

/// <summary>RefER step 5 on the device: the pooled displacement of each match
/// (<c>RefErMatching.PooledFlow</c>) and its bilinear upsampling to pixels
/// (<c>FlowUpsample</c>, PyTorch's align_corners=False rule), every float operation rounded
/// once in the CPU's order.</summary>
public static class FlowKernels
{
    /// <summary>flow[2i], flow[2i+1] = pos(argmax[i]) − pos(i) in pooled units (x, y).</summary>
    public static void PooledFlow(Index1D i, ArrayView<int> argmax, ArrayView<float> flow, int pooledWidth, int referencePooledWidth)
    {
        int j = argmax[i];
        flow[2 * i] = j % referencePooledWidth - i % pooledWidth;
        flow[2 * i + 1] = j / referencePooledWidth - i / pooledWidth;
    }

    /// <summary>output [outHeight][outWidth][2] = bilinear(flow [height][width][2]) · factor; one thread per output pixel.</summary>
    public static void Upsample<TMath>(Index1D o, ArrayView<float> flow, ArrayView<float> output, int height, int width, int outHeight, int outWidth, float factor)
        where TMath : struct, IDeviceMath
    {
        int oy = o / outWidth, ox = o - oy * outWidth;
        float sy = (float)height / outHeight, sx = (float)width / outWidth;
        Source<TMath>(sy, oy, height, out int y0, out int y1, out float ly0, out float ly1);
        Source<TMath>(sx, ox, width, out int x0, out int x1, out float lx0, out float lx1);
        for (int k = 0; k < 2; k++)
        {
            float top = default(TMath).Add(default(TMath).Mul(lx0, flow[(y0 * width + x0) * 2 + k]), default(TMath).Mul(lx1, flow[(y0 * width + x1) * 2 + k]));
            float bottom = default(TMath).Add(default(TMath).Mul(lx0, flow[(y1 * width + x0) * 2 + k]), default(TMath).Mul(lx1, flow[(y1 * width + x1) * 2 + k]));
            float v = default(TMath).Add(default(TMath).Mul(ly0, top), default(TMath).Mul(ly1, bottom));
            output[o * 2 + k] = default(TMath).Mul(v, factor);
        }
    }

    // PyTorch area_pixel_compute_source_index (align_corners=False) and upsample_bilinear2d's neighbour/lambda rule
    static void Source<TMath>(float scale, int dst, int inSize, out int i0, out int i1, out float l0, out float l1)
        where TMath : struct, IDeviceMath
    {
        float src = default(TMath).Sub(default(TMath).Mul(scale, default(TMath).Add(dst, 0.5f)), 0.5f);
        if (src < 0) src = 0;
        i0 = (int)src;
        if (i0 > inSize - 1) i0 = inSize - 1;
        i1 = i0 + (i0 < inSize - 1 ? 1 : 0);
        l1 = default(TMath).Sub(src, i0);
        l0 = default(TMath).Sub(1f, l1);
    }
}
