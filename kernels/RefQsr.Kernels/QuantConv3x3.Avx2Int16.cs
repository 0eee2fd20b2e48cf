using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace RefQsr.Kernels;

public static partial class QuantConv3x3
{
    // The int16 path (Avx512Int16Rows) in Vector256 registers, for CPUs with AVX2 and no
    // AVX-512: 2 pixels x 32 output channels (8 int16 accumulators, 4 weight registers and the
    // broadcast in AVX2's 16), vpmaddubsw of a broadcast 4-byte activation group against
    // [co][4] weight bytes summed in int16 for `steps` (tap, quad) groups under the same
    // exactness bound (Int16Steps), then widened by vpmaddwd(·, 1) into the int32 output:
    // 32 MACs per multiply, twice the pair path's 16.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static unsafe void Avx2Int16Rows(byte[] padded, int pw, QuantConvWeights w, sbyte[] quadCodes, int[] acc, int accRow0, int width, int r0, int r1, int steps)
    {
        const int tilePixels = 2;
        int cin = w.InChannels, cout = w.OutChannels, quads = cin / 4, total = 9 * quads;
        var ones = Vector256.Create((short)1);
        int* tail = stackalloc int[tilePixels * 32];
        fixed (byte* pin = padded)
        fixed (sbyte* pwt = quadCodes)
        fixed (int* pout = acc)
        {
            for (int y = r0; y < r1; y++)
                for (int cb = 0; cb < cout; cb += 32)
                    for (int x = 0; x < width; x += tilePixels)
                    {
                        // a partial tile at the right edge reads padding and slack, and lands in `tail`
                        bool full = x + tilePixels <= width;
                        int* o = full ? pout + ((y - accRow0) * width + x) * cout + cb : tail;
                        int os = full ? cout : 32;
                        for (int k0 = 0; k0 < total; k0 += steps)
                        {
                            Vector256<short> s00 = default, s01 = default, s02 = default, s03 = default;
                            Vector256<short> s10 = default, s11 = default, s12 = default, s13 = default;
                            int k1 = Math.Min(total, k0 + steps);
                            for (int k = k0; k < k1;)
                            {
                                int t = k / quads, q0 = k - t * quads, q1 = Math.Min(quads, q0 + k1 - k);
                                int ky = t / 3, kx = t - ky * 3;
                                byte* src = pin + ((y + ky) * pw + x + kx) * cin;
                                sbyte* wt = pwt + (t * quads * cout + cb) * 4;
                                for (int q = q0; q < q1; q++)
                                {
                                    sbyte* wq = wt + q * cout * 4;
                                    var w0 = Vector256.Load(wq); var w1 = Vector256.Load(wq + 32);
                                    var w2 = Vector256.Load(wq + 64); var w3 = Vector256.Load(wq + 96);
                                    byte* a = src + q * 4;
                                    var b = Vector256.Create(*(int*)a).AsByte();
                                    s00 += Avx2.MultiplyAddAdjacent(b, w0); s01 += Avx2.MultiplyAddAdjacent(b, w1);
                                    s02 += Avx2.MultiplyAddAdjacent(b, w2); s03 += Avx2.MultiplyAddAdjacent(b, w3);
                                    b = Vector256.Create(*(int*)(a + cin)).AsByte();
                                    s10 += Avx2.MultiplyAddAdjacent(b, w0); s11 += Avx2.MultiplyAddAdjacent(b, w1);
                                    s12 += Avx2.MultiplyAddAdjacent(b, w2); s13 += Avx2.MultiplyAddAdjacent(b, w3);
                                }
                                k = t * quads + q1;
                            }
                            bool first = k0 == 0;
                            Widen256(o, first, s00, s01, s02, s03, ones);
                            Widen256(o + os, first, s10, s11, s12, s13, ones);
                        }
                        if (!full)
                            new Span<int>(tail, 32).CopyTo(new Span<int>(pout + ((y - accRow0) * width + x) * cout + cb, 32));
                    }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static unsafe void Widen256(int* o, bool first, Vector256<short> s0, Vector256<short> s1, Vector256<short> s2, Vector256<short> s3, Vector256<short> ones)
    {
        var v0 = Avx2.MultiplyAddAdjacent(s0, ones); var v1 = Avx2.MultiplyAddAdjacent(s1, ones);
        var v2 = Avx2.MultiplyAddAdjacent(s2, ones); var v3 = Avx2.MultiplyAddAdjacent(s3, ones);
        if (!first)
        {
            v0 += Vector256.Load(o); v1 += Vector256.Load(o + 8);
            v2 += Vector256.Load(o + 16); v3 += Vector256.Load(o + 24);
        }
        v0.Store(o); v1.Store(o + 8); v2.Store(o + 16); v3.Store(o + 24);
    }
}
