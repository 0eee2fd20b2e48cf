using ILGPU;

namespace RefQsr.Kernels.Gpu;

/// <summary>The integer 3x3 conv with shared-memory tiles: a group of TW x TH threads (16x8 on
/// a GPU; 4x4 on ILGPU's CPU accelerator, which allows 16 threads per group) loads the
/// (TH+2)x(TW+2) input tile (zero outside the image, which adds nothing, exactly like the
/// skipped taps of <see cref="QuantConvKernels.Accumulate{TMath}"/>) and the weights of 8
/// output channels once (decoded from their b-bit stream into dp4a words), then each thread computes its pixel's 8 accumulators from shared
/// memory, in registers. Patches of a batch are separate groups along z. Same integers as the one-thread-per-output kernel.</summary>
public static class QuantConvTiledKernel
{
    public const int OutBlock = 8;
    /// <summary>Shared memory a group may use (the default 48 KB per block on CUDA).</summary>
    public const int MaxSharedBytes = 48 * 1024;

    /// <summary>Ints per tile pixel: the words of its channels, made odd so the 16 threads of a
    /// half-warp reading neighbouring pixels hit different banks.</summary>
    public static int PixelStride(int words) => words | 1;

    /// <summary>The tile for an accelerator that allows <paramref name="maxGroupThreads"/> threads per group.</summary>
    public static (int W, int H) Tile(int maxGroupThreads) => maxGroupThreads >= 128 ? (16, 8) : maxGroupThreads >= 16 ? (4, 4) : (2, 2);

    public static int SharedInts(int inChannels, (int W, int H) tile)
    {
        int words = inChannels / 4;
        return (tile.H + 2) * (tile.W + 2) * PixelStride(words) + OutBlock * 9 * words;
    }

    /// <summary>Whether a shape fits the tiled kernel's shared memory.</summary>
    public static bool Fits(int inChannels, (int W, int H) tile) => inChannels % 4 == 0 && SharedInts(inChannels, tile) * sizeof(int) <= MaxSharedBytes;

    /// <summary>Output-channel blocks per sample: ⌈Cout/8⌉.</summary>
    public static int OutBlocks(int outChannels) => (outChannels + OutBlock - 1) / OutBlock;

    /// <summary>Grid (⌈W/TW⌉, ⌈H/TH⌉, ⌈Cout/8⌉·N), groups of (TW, TH, 1), <see cref="SharedInts"/> ints of
    /// dynamic shared memory.</summary>
    public static void Accumulate<TMath>(ArrayView<int> codes, ArrayView<int> weights, ArrayView<int> acc, ArrayView<int> codeSums, QuantConvDims d)
        where TMath : struct, IDeviceMath
    {
        var shared = SharedMemory.GetDynamic<int>();
        int words = d.Words, ps = PixelStride(words);
        int tileW = Group.DimX, tileH = Group.DimY;
        int tw = tileW + 2, th = tileH + 2, threads = tileW * tileH;
        int tileLen = tw * th * ps;
        int blocks = OutBlocks(d.OutChannels), n = Grid.IdxZ / blocks;
        int x0 = Grid.IdxX * tileW, y0 = Grid.IdxY * tileH, co0 = (Grid.IdxZ - n * blocks) * OutBlock;
        int first = n * d.SamplePixels;
        int t = Group.IdxY * tileW + Group.IdxX;
        for (int i = t; i < tw * th * words; i += threads)
        {
            int p = i / words, g = i - p * words;
            int ty = p / tw, tx = p - ty * tw;
            int iy = y0 + ty - 1, ix = x0 + tx - 1;
            shared[p * ps + g] = iy >= 0 && iy < d.Height && ix >= 0 && ix < d.Width ? codes[(first + iy * d.Width + ix) * words + g] : 0;
        }
        int wLen = OutBlock * 9 * words;
        for (int i = t; i < wLen; i += threads)
            shared[tileLen + i] = co0 + i / (9 * words) < d.OutChannels ? PackedWeights.Word(weights, d.WeightBits, co0 * 9 * words + i) : 0;
        Group.Barrier();

        int x = x0 + Group.IdxX, y = y0 + Group.IdxY;
        if (x >= d.Width || y >= d.Height) return;
        // each activation word is read once from shared memory and used for the 8 output
        // channels, whose sums stay in registers (weights: the same address for every thread)
        int s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0;
        int wStride = 9 * words;
        for (int ky = 0; ky < 3; ky++)
            for (int kx = 0; kx < 3; kx++)
            {
                int a0 = ((Group.IdxY + ky) * tw + Group.IdxX + kx) * ps, w0 = tileLen + (ky * 3 + kx) * words;
                for (int g = 0; g < words; g++)
                {
                    int a = shared[a0 + g], w = w0 + g;
                    s0 = default(TMath).Dot4(a, shared[w], s0);
                    s1 = default(TMath).Dot4(a, shared[w + wStride], s1);
                    s2 = default(TMath).Dot4(a, shared[w + 2 * wStride], s2);
                    s3 = default(TMath).Dot4(a, shared[w + 3 * wStride], s3);
                    s4 = default(TMath).Dot4(a, shared[w + 4 * wStride], s4);
                    s5 = default(TMath).Dot4(a, shared[w + 5 * wStride], s5);
                    s6 = default(TMath).Dot4(a, shared[w + 6 * wStride], s6);
                    s7 = default(TMath).Dot4(a, shared[w + 7 * wStride], s7);
                }
            }
        // channels past Cout have zero weights in shared memory and are not written
        int pixel = first + y * d.Width + x;
        int o = pixel * d.OutChannels + co0, valid = d.OutChannels - co0;
        // the first channel block also writes the pixel's code sum (the tile is zero outside
        // the image, so all 9 taps give the sum over the valid ones)
        if (co0 == 0)
        {
            int sa = 0;
            for (int ky = 0; ky < 3; ky++)
                for (int kx = 0; kx < 3; kx++)
                {
                    int a0 = ((Group.IdxY + ky) * tw + Group.IdxX + kx) * ps;
                    for (int g = 0; g < words; g++) sa = default(TMath).Dot4(shared[a0 + g], 0x01010101, sa);
                }
            codeSums[pixel] = sa;
        }
        acc[o] = s0;
        if (valid > 1) acc[o + 1] = s1;
        if (valid > 2) acc[o + 2] = s2;
        if (valid > 3) acc[o + 3] = s3;
        if (valid > 4) acc[o + 4] = s4;
        if (valid > 5) acc[o + 5] = s5;
        if (valid > 6) acc[o + 6] = s6;
        if (valid > 7) acc[o + 7] = s7;
    }
}
