using ILGPU;

namespace RefQsr.Kernels.Gpu;

/// <summary>The integer 3x3 conv with shared-memory tiles: a group of TW x TH threads (16x8 on
/// a GPU; 4x4 on ILGPU's CPU accelerator, which allows 16 threads per group) loads the
/// (TH+2)x(TW+2) input tile (zero outside the image, which adds nothing, exactly like the
/// skipped taps of <see cref="QuantConvKernels.Accumulate{TMath}"/>) and the weights of 8
/// output channels once, then each thread computes its pixel's 8 accumulators from shared
/// memory. Same integers as the one-thread-per-output kernel.</summary>
public static class QuantConvTiledKernel
{
    public const int OutBlock = 8;
    /// <summary>Shared memory a group may use (the default 48 KB per block on CUDA).</summary>
    public const int MaxSharedBytes = 48 * 1024;

    /// <summary>Ints per tile pixel: the words of its channels, made odd so the 16 threads of a
    /// half-warp reading neighbouring pixels hit different banks.</summary>
    public static int PixelStride(int words) => words | 1;

    /// <summary>The tile for an accelerator that allows <paramref name="maxGroupThreads"/> threads per group.</summary>
    public static (int W, int H) Tile(int maxGroupThreads) => maxGroupThreads >= 128 ? (16, 8) : (4, 4);

    public static int SharedInts(int inChannels, (int W, int H) tile)
    {
        int words = inChannels / 4;
        return (tile.H + 2) * (tile.W + 2) * PixelStride(words) + OutBlock * 9 * words;
    }

    /// <summary>Whether a shape fits the tiled kernel's shared memory.</summary>
    public static bool Fits(int inChannels, (int W, int H) tile) => inChannels % 4 == 0 && SharedInts(inChannels, tile) * sizeof(int) <= MaxSharedBytes;

    /// <summary>Grid (⌈W/TW⌉, ⌈H/TH⌉, ⌈Cout/8⌉), groups of (TW, TH, 1), <see cref="SharedInts"/> ints of
    /// dynamic shared memory.</summary>
    public static void Accumulate<TMath>(ArrayView<int> codes, ArrayView<int> weights, ArrayView<int> acc, QuantConvDims d)
        where TMath : struct, IDeviceMath
    {
        var shared = SharedMemory.GetDynamic<int>();
        int words = d.Words, ps = PixelStride(words);
        int tileW = Group.DimX, tileH = Group.DimY;
        int tw = tileW + 2, th = tileH + 2, threads = tileW * tileH;
        int tileLen = tw * th * ps;
        int x0 = Grid.IdxX * tileW, y0 = Grid.IdxY * tileH, co0 = Grid.IdxZ * OutBlock;
        int t = Group.IdxY * tileW + Group.IdxX;
        for (int i = t; i < tw * th * words; i += threads)
        {
            int p = i / words, g = i - p * words;
            int ty = p / tw, tx = p - ty * tw;
            int iy = y0 + ty - 1, ix = x0 + tx - 1;
            shared[p * ps + g] = iy >= 0 && iy < d.Height && ix >= 0 && ix < d.Width ? codes[(iy * d.Width + ix) * words + g] : 0;
        }
        int wLen = OutBlock * 9 * words;
        for (int i = t; i < wLen; i += threads)
            shared[tileLen + i] = co0 + i / (9 * words) < d.OutChannels ? weights[co0 * 9 * words + i] : 0;
        Group.Barrier();

        int x = x0 + Group.IdxX, y = y0 + Group.IdxY;
        if (x >= d.Width || y >= d.Height) return;
        for (int j = 0; j < OutBlock && co0 + j < d.OutChannels; j++)
        {
            int sum = 0;
            for (int ky = 0; ky < 3; ky++)
                for (int kx = 0; kx < 3; kx++)
                {
                    int a0 = ((Group.IdxY + ky) * tw + Group.IdxX + kx) * ps, w0 = tileLen + (j * 9 + ky * 3 + kx) * words;
                    for (int g = 0; g < words; g++) sum = default(TMath).Dot4(shared[a0 + g], shared[w0 + g], sum);
                }
            acc[(y * d.Width + x) * d.OutChannels + co0 + j] = sum;
        }
    }
}
