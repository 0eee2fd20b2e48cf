using ILGPU;

namespace RefQsr.Kernels.Gpu;

/// <summary>The FP32 "same" conv with shared-memory tiles: a group of TW x TH threads (8x8 on a
/// GPU, 4x4 on ILGPU's CPU accelerator) loads the input tile with its halo (zero outside the
/// image) and a block of output channels' weights once; each thread computes one pixel's
/// outputs of that block in registers. Every output is still one FMA chain in the order of
/// <see cref="FloatConvKernels.Conv{TMath}"/> (the CPU kernel's order), so the floats are the
/// same: the taps outside the image add 0·w, which leaves a sum unchanged (the CPU adds them too).</summary>
public static class FloatConvTiledKernel
{
    /// <summary>Output channels per group: 8 for the tap-major order (wide convs: head,
    /// body end, upsampler), 4 for the channel-major order (the 3-channel tail).</summary>
    public static int OutBlock(FloatConvOrder order) => order == FloatConvOrder.TapMajor ? 8 : 4;
    /// <summary>Input channels per shared-memory pass of the channel-major kernel (its chain
    /// runs channel by channel, so the channels can come in chunks).</summary>
    public const int ChannelChunk = 16;
    public const int MaxSharedBytes = QuantConvTiledKernel.MaxSharedBytes;

    public static (int W, int H) Tile(int maxGroupThreads) => maxGroupThreads >= 64 ? (8, 8) : maxGroupThreads >= 16 ? (4, 4) : (2, 2);

    public static int OutBlocks(int outChannels, FloatConvOrder order) => (outChannels + OutBlock(order) - 1) / OutBlock(order);

    /// <summary>Floats per tile pixel: made odd so threads reading neighbouring pixels' same channel hit different banks.</summary>
    static int PixelStride(int channels) => channels | 1;

    public static int SharedFloats(FloatConvDims d, (int W, int H) tile)
    {
        int k = d.Kernel, px = (tile.W + k - 1) * (tile.H + k - 1);
        return d.ChannelMajor != 0
            ? px * PixelStride(ChannelChunk) + OutBlock(FloatConvOrder.ChannelMajor) * ChannelChunk * k * k
            : px * PixelStride(d.InChannels) + OutBlock(FloatConvOrder.TapMajor) * k * k * d.InChannels;
    }

    public static bool Fits(FloatConvDims d, (int W, int H) tile) => SharedFloats(d, tile) * sizeof(float) <= MaxSharedBytes;

    /// <summary>Tap-major chain (ky, kx, ci). Grid (⌈W/TW⌉, ⌈H/TH⌉, ⌈Cout/8⌉·N), groups (TW, TH, 1),
    /// <see cref="SharedFloats"/> floats of dynamic shared memory.</summary>
    public static void TapMajor<TMath>(ArrayView<float> input, ArrayView<float> weights, ArrayView<float> output, FloatConvDims d)
        where TMath : struct, IDeviceMath
    {
        var shared = SharedMemory.GetDynamic<float>();
        const int ob = 8;
        int k = d.Kernel, pad = k / 2, cin = d.InChannels, ps = PixelStride(cin);
        int tileW = Group.DimX, tileH = Group.DimY, tw = tileW + k - 1, th = tileH + k - 1, threads = tileW * tileH;
        int tileLen = tw * th * ps;
        int blocks = (d.OutChannels + ob - 1) / ob, n = Grid.IdxZ / blocks, co0 = (Grid.IdxZ - n * blocks) * ob;
        int first = n * d.Height * d.Width, x0 = Grid.IdxX * tileW, y0 = Grid.IdxY * tileH;
        int t = Group.IdxY * tileW + Group.IdxX;
        for (int i = t; i < tw * th * cin; i += threads)
        {
            int p = i / cin, c = i - p * cin, ty = p / tw, tx = p - ty * tw;
            int iy = y0 + ty - pad, ix = x0 + tx - pad;
            shared[p * ps + c] = iy >= 0 && iy < d.Height && ix >= 0 && ix < d.Width ? input[(first + iy * d.Width + ix) * cin + c] : 0f;
        }
        // weights as [j][ky][kx][ci] (from PyTorch's [co][ci][ky][kx]), zero past Cout
        int wStride = k * k * cin;
        for (int i = t; i < ob * wStride; i += threads)
        {
            int j = i / wStride, r = i - j * wStride, tap = r / cin, ci = r - tap * cin, co = co0 + j;
            shared[tileLen + i] = co < d.OutChannels ? weights[(co * cin + ci) * k * k + tap] : 0f;
        }
        Group.Barrier();

        int x = x0 + Group.IdxX, y = y0 + Group.IdxY;
        if (x >= d.Width || y >= d.Height) return;
        float s0 = 0f, s1 = 0f, s2 = 0f, s3 = 0f, s4 = 0f, s5 = 0f, s6 = 0f, s7 = 0f;
        for (int ky = 0; ky < k; ky++)
            for (int kx = 0; kx < k; kx++)
            {
                int a0 = ((Group.IdxY + ky) * tw + Group.IdxX + kx) * ps, w0 = tileLen + (ky * k + kx) * cin;
                for (int ci = 0; ci < cin; ci++)
                {
                    float a = shared[a0 + ci];
                    int w = w0 + ci;
                    s0 = default(TMath).Fma(a, shared[w], s0);
                    s1 = default(TMath).Fma(a, shared[w + wStride], s1);
                    s2 = default(TMath).Fma(a, shared[w + 2 * wStride], s2);
                    s3 = default(TMath).Fma(a, shared[w + 3 * wStride], s3);
                    s4 = default(TMath).Fma(a, shared[w + 4 * wStride], s4);
                    s5 = default(TMath).Fma(a, shared[w + 5 * wStride], s5);
                    s6 = default(TMath).Fma(a, shared[w + 6 * wStride], s6);
                    s7 = default(TMath).Fma(a, shared[w + 7 * wStride], s7);
                }
            }
        int o = (first + y * d.Width + x) * d.OutChannels + co0, valid = d.OutChannels - co0;
        output[o] = s0;
        if (valid > 1) output[o + 1] = s1;
        if (valid > 2) output[o + 2] = s2;
        if (valid > 3) output[o + 3] = s3;
        if (valid > 4) output[o + 4] = s4;
        if (valid > 5) output[o + 5] = s5;
        if (valid > 6) output[o + 6] = s6;
        if (valid > 7) output[o + 7] = s7;
    }

    /// <summary>Channel-major chain (ci, ky, kx), the input channels in chunks of
    /// <see cref="ChannelChunk"/>. Grid (⌈W/TW⌉, ⌈H/TH⌉, ⌈Cout/4⌉·N), groups (TW, TH, 1).</summary>
    public static void ChannelMajor<TMath>(ArrayView<float> input, ArrayView<float> weights, ArrayView<float> output, FloatConvDims d)
        where TMath : struct, IDeviceMath
    {
        var shared = SharedMemory.GetDynamic<float>();
        const int ob = 4, cc = ChannelChunk;
        int k = d.Kernel, kk = k * k, pad = k / 2, cin = d.InChannels, ps = PixelStride(cc);
        int tileW = Group.DimX, tileH = Group.DimY, tw = tileW + k - 1, th = tileH + k - 1, threads = tileW * tileH;
        int tileLen = tw * th * ps;
        int blocks = (d.OutChannels + ob - 1) / ob, n = Grid.IdxZ / blocks, co0 = (Grid.IdxZ - n * blocks) * ob;
        int first = n * d.Height * d.Width, x0 = Grid.IdxX * tileW, y0 = Grid.IdxY * tileH;
        int t = Group.IdxY * tileW + Group.IdxX;
        int x = x0 + Group.IdxX, y = y0 + Group.IdxY;
        bool inside = x < d.Width && y < d.Height;
        float s0 = 0f, s1 = 0f, s2 = 0f, s3 = 0f;
        for (int c0 = 0; c0 < cin; c0 += cc)
        {
            int chunk = cin - c0 < cc ? cin - c0 : cc;
            for (int i = t; i < tw * th * chunk; i += threads)
            {
                int p = i / chunk, c = i - p * chunk, ty = p / tw, tx = p - ty * tw;
                int iy = y0 + ty - pad, ix = x0 + tx - pad;
                shared[p * ps + c] = iy >= 0 && iy < d.Height && ix >= 0 && ix < d.Width ? input[(first + iy * d.Width + ix) * cin + c0 + c] : 0f;
            }
            // weights as [j][c][ky][kx] for this chunk, zero past Cout
            int wStride = chunk * kk;
            for (int i = t; i < ob * wStride; i += threads)
            {
                int j = i / wStride, r = i - j * wStride, c = r / kk, tap = r - c * kk, co = co0 + j;
                shared[tileLen + i] = co < d.OutChannels ? weights[(co * cin + c0 + c) * kk + tap] : 0f;
            }
            Group.Barrier();
            if (inside)
                for (int c = 0; c < chunk; c++)
                    for (int ky = 0; ky < k; ky++)
                        for (int kx = 0; kx < k; kx++)
                        {
                            float a = shared[((Group.IdxY + ky) * tw + Group.IdxX + kx) * ps + c];
                            int w = tileLen + c * kk + ky * k + kx;
                            s0 = default(TMath).Fma(a, shared[w], s0);
                            s1 = default(TMath).Fma(a, shared[w + wStride], s1);
                            s2 = default(TMath).Fma(a, shared[w + 2 * wStride], s2);
                            s3 = default(TMath).Fma(a, shared[w + 3 * wStride], s3);
                        }
            Group.Barrier();
        }
        if (!inside) return;
        int o = (first + y * d.Width + x) * d.OutChannels + co0, valid = d.OutChannels - co0;
        output[o] = s0;
        if (valid > 1) output[o + 1] = s1;
        if (valid > 2) output[o + 2] = s2;
        if (valid > 3) output[o + 3] = s3;
    }
}
