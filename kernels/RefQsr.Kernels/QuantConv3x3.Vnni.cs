using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace RefQsr.Kernels;

public static partial class QuantConv3x3
{
    /// <summary>Pixels per register tile of the AvxVnni path; the padded input needs this many
    /// pixels of slack, minus one, past its end.</summary>
    internal const int VnniTilePixels = 6;

    /// <summary>The AvxVnni path's shapes: input quads, 16 output channels per register pair.</summary>
    internal static bool VnniVectorizable(QuantConvWeights w) => w.InChannels % 4 == 0 && w.OutChannels % 16 == 0;

    // 6 pixels x 16 output channels, one tap at a time: vpdpbusd (u8 x s8, four products
    // summed into each int32 lane) of a broadcast 4-byte activation quad against [co][4]
    // weight bytes. Exact for every bit-width with no step bound (int32 accumulation), and
    // vpdpbusd multiplies and adds in one instruction. AvxVnni is VEX-encoded, so only 16
    // ymm registers: 12 accumulators, 2 weight vectors and a broadcast.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static unsafe void VnniRows(byte[] padded, int pw, QuantConvWeights w, sbyte[] quadCodes, int[] acc, int accRow0, int width, int r0, int r1)
    {
        int cin = w.InChannels, cout = w.OutChannels, quads = cin / 4;
        int* tail = stackalloc int[VnniTilePixels * 16];
        fixed (byte* pin = padded)
        fixed (sbyte* pwt = quadCodes)
        fixed (int* pout = acc)
        {
            for (int y = r0; y < r1; y++)
                for (int cb = 0; cb < cout; cb += 16)
                    for (int x = 0; x < width; x += VnniTilePixels)
                    {
                        // a partial tile at the right edge reads padding and slack, and lands in `tail`
                        bool full = x + VnniTilePixels <= width;
                        int* o = full ? pout + ((long)(y - accRow0) * width + x) * cout + cb : tail;
                        int os = full ? cout : 16;
                        Vector256<int> s00 = default, s01 = default, s10 = default, s11 = default, s20 = default, s21 = default;
                        Vector256<int> s30 = default, s31 = default, s40 = default, s41 = default, s50 = default, s51 = default;
                        for (int t = 0; t < 9; t++)
                        {
                            int ky = t / 3, kx = t - 3 * ky;
                            byte* a = pin + ((long)(y + ky) * pw + x + kx) * cin;
                            sbyte* wq = pwt + ((long)t * quads * cout + cb) * 4;
                            for (int q = 0; q < quads; q++, a += 4, wq += cout * 4)
                            {
                                var w0 = Vector256.Load(wq); var w1 = Vector256.Load(wq + 32);
                                var b = Vector256.Create(*(int*)a).AsByte();
                                s00 = AvxVnni.MultiplyWideningAndAdd(s00, b, w0); s01 = AvxVnni.MultiplyWideningAndAdd(s01, b, w1);
                                b = Vector256.Create(*(int*)(a + cin)).AsByte();
                                s10 = AvxVnni.MultiplyWideningAndAdd(s10, b, w0); s11 = AvxVnni.MultiplyWideningAndAdd(s11, b, w1);
                                b = Vector256.Create(*(int*)(a + 2 * cin)).AsByte();
                                s20 = AvxVnni.MultiplyWideningAndAdd(s20, b, w0); s21 = AvxVnni.MultiplyWideningAndAdd(s21, b, w1);
                                b = Vector256.Create(*(int*)(a + 3 * cin)).AsByte();
                                s30 = AvxVnni.MultiplyWideningAndAdd(s30, b, w0); s31 = AvxVnni.MultiplyWideningAndAdd(s31, b, w1);
                                b = Vector256.Create(*(int*)(a + 4 * cin)).AsByte();
                                s40 = AvxVnni.MultiplyWideningAndAdd(s40, b, w0); s41 = AvxVnni.MultiplyWideningAndAdd(s41, b, w1);
                                b = Vector256.Create(*(int*)(a + 5 * cin)).AsByte();
                                s50 = AvxVnni.MultiplyWideningAndAdd(s50, b, w0); s51 = AvxVnni.MultiplyWideningAndAdd(s51, b, w1);
                            }
                        }
                        s00.Store(o); s01.Store(o + 8); s10.Store(o + os); s11.Store(o + os + 8);
                        s20.Store(o + 2 * os); s21.Store(o + 2 * os + 8); s30.Store(o + 3 * os); s31.Store(o + 3 * os + 8);
                        s40.Store(o + 4 * os); s41.Store(o + 4 * os + 8); s50.Store(o + 5 * os); s51.Store(o + 5 * os + 8);
                        if (!full)
                            for (int p = 0; p < width - x; p++)
                                new Span<int>(tail + p * 16, 16).CopyTo(new Span<int>(pout + ((long)(y - accRow0) * width + x + p) * cout + cb, 16));
                    }
        }
    }

    /// <summary>The Winograd paths' GEMM with Vector256 vpdpbusd, which sums four u8 x s8
    /// products into int32 at once (no int16 runs, no widening, no step bound): six tiles
    /// (<paramref name="tileStride"/> bytes apart) x 16 output channels, over
    /// <paramref name="segments"/> input streams of <paramref name="quads"/> quads each (the
    /// row path's three kernel rows, the 2-D path's one), into <paramref name="m"/> (tiles 64
    /// ints apart). 12 accumulators, 2 weight vectors and a broadcast in the 16 VEX registers.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static unsafe void VnniGemm6x16(byte* v0, byte* v1, byte* v2, int segments, int tileStride, sbyte* u, int quads, int cout, int* m)
    {
        Vector256<int> s00 = default, s01 = default, s10 = default, s11 = default, s20 = default, s21 = default;
        Vector256<int> s30 = default, s31 = default, s40 = default, s41 = default, s50 = default, s51 = default;
        sbyte* wq = u;
        for (int ky = 0; ky < segments; ky++)
        {
            byte* a = ky == 0 ? v0 : ky == 1 ? v1 : v2;
            for (int q = 0; q < quads; q++, a += 4, wq += cout * 4)
            {
                var w0 = Vector256.Load(wq); var w1 = Vector256.Load(wq + 32);
                var b = Vector256.Create(*(int*)a).AsByte();
                s00 = AvxVnni.MultiplyWideningAndAdd(s00, b, w0); s01 = AvxVnni.MultiplyWideningAndAdd(s01, b, w1);
                b = Vector256.Create(*(int*)(a + tileStride)).AsByte();
                s10 = AvxVnni.MultiplyWideningAndAdd(s10, b, w0); s11 = AvxVnni.MultiplyWideningAndAdd(s11, b, w1);
                b = Vector256.Create(*(int*)(a + 2 * tileStride)).AsByte();
                s20 = AvxVnni.MultiplyWideningAndAdd(s20, b, w0); s21 = AvxVnni.MultiplyWideningAndAdd(s21, b, w1);
                b = Vector256.Create(*(int*)(a + 3 * tileStride)).AsByte();
                s30 = AvxVnni.MultiplyWideningAndAdd(s30, b, w0); s31 = AvxVnni.MultiplyWideningAndAdd(s31, b, w1);
                b = Vector256.Create(*(int*)(a + 4 * tileStride)).AsByte();
                s40 = AvxVnni.MultiplyWideningAndAdd(s40, b, w0); s41 = AvxVnni.MultiplyWideningAndAdd(s41, b, w1);
                b = Vector256.Create(*(int*)(a + 5 * tileStride)).AsByte();
                s50 = AvxVnni.MultiplyWideningAndAdd(s50, b, w0); s51 = AvxVnni.MultiplyWideningAndAdd(s51, b, w1);
            }
        }
        s00.Store(m); s01.Store(m + 8); s10.Store(m + 64); s11.Store(m + 72); s20.Store(m + 128); s21.Store(m + 136);
        s30.Store(m + 192); s31.Store(m + 200); s40.Store(m + 256); s41.Store(m + 264); s50.Store(m + 320); s51.Store(m + 328);
    }
}
