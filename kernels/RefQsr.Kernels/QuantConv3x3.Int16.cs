using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace RefQsr.Kernels;

public static partial class QuantConv3x3
{
    /// <summary>How many vpmaddubsw results (each a0·w0 + a1·w1) can be summed in int16
    /// before widening, for activation codes up to <paramref name="maxActivation"/> and
    /// weight codes of magnitude up to <paramref name="maxWeightMagnitude"/>: every partial
    /// sum must stay within ±32767, i.e. 2·k·maxA·maxW ≤ 32767. Zero means the int16 path
    /// is not exact for these bit-widths (8-bit activations with 7- or 8-bit weights).</summary>
    public static int Int16Steps(int maxActivation, int maxWeightMagnitude)
    {
        long perStep = 2L * maxActivation * maxWeightMagnitude;
        return perStep == 0 ? int.MaxValue : (int)Math.Min(int.MaxValue, 32767 / perStep);
    }

    /// <summary>Pixels per register tile of the int16 path; the padded input needs this many
    /// pixels of slack, minus one, past its end.</summary>
    internal const int Int16TilePixels = 4;

    // 4 pixels x 64 output channels, one tap at a time: vpmaddubsw of a broadcast 4-byte
    // activation group against [co][4] weight bytes gives two int16 lanes per output
    // channel; 16 int16 accumulators sum up to `steps` groups (across taps where the bound
    // allows), then vpmaddwd(·, 1) widens them into the int32 output in memory. Going tap by
    // tap keeps that tap's weights (in/4 x 256 bytes) in L1, and four pixels share each
    // weight load.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static unsafe void Avx512Int16Rows(byte[] padded, int pw, QuantConvWeights w, sbyte[] quadCodes, int[] acc, int accRow0, int width, int r0, int r1, int steps)
    {
        int cin = w.InChannels, cout = w.OutChannels, quads = cin / 4, total = 9 * quads;
        var ones = Vector512.Create((short)1);
        int* tail = stackalloc int[Int16TilePixels * 64];
        fixed (byte* pin = padded)
        fixed (sbyte* pwt = quadCodes)
        fixed (int* pout = acc)
        {
            for (int y = r0; y < r1; y++)
                for (int cb = 0; cb < cout; cb += 64)
                    for (int x = 0; x < width; x += Int16TilePixels)
                    {
                        // a partial tile at the right edge reads padding and slack, and lands in `tail`
                        bool full = x + Int16TilePixels <= width;
                        int* o = full ? pout + ((y - accRow0) * width + x) * cout + cb : tail;
                        int os = full ? cout : 64;
                        // the 9·quads (tap, quad) steps in runs of `steps`, a run crossing taps where
                        // the bound allows (4-bit activations with 6-bit weights: 34 steps, two taps)
                        for (int k0 = 0; k0 < total; k0 += steps)
                        {
                            Vector512<short> s00 = default, s01 = default, s02 = default, s03 = default;
                            Vector512<short> s10 = default, s11 = default, s12 = default, s13 = default;
                            Vector512<short> s20 = default, s21 = default, s22 = default, s23 = default;
                            Vector512<short> s30 = default, s31 = default, s32 = default, s33 = default;
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
                                    var w0 = Vector512.Load(wq); var w1 = Vector512.Load(wq + 64);
                                    var w2 = Vector512.Load(wq + 128); var w3 = Vector512.Load(wq + 192);
                                    byte* a = src + q * 4;
                                    var b = Vector512.Create(*(int*)a).AsByte();
                                    s00 += Avx512BW.MultiplyAddAdjacent(b, w0); s01 += Avx512BW.MultiplyAddAdjacent(b, w1);
                                    s02 += Avx512BW.MultiplyAddAdjacent(b, w2); s03 += Avx512BW.MultiplyAddAdjacent(b, w3);
                                    b = Vector512.Create(*(int*)(a + cin)).AsByte();
                                    s10 += Avx512BW.MultiplyAddAdjacent(b, w0); s11 += Avx512BW.MultiplyAddAdjacent(b, w1);
                                    s12 += Avx512BW.MultiplyAddAdjacent(b, w2); s13 += Avx512BW.MultiplyAddAdjacent(b, w3);
                                    b = Vector512.Create(*(int*)(a + 2 * cin)).AsByte();
                                    s20 += Avx512BW.MultiplyAddAdjacent(b, w0); s21 += Avx512BW.MultiplyAddAdjacent(b, w1);
                                    s22 += Avx512BW.MultiplyAddAdjacent(b, w2); s23 += Avx512BW.MultiplyAddAdjacent(b, w3);
                                    b = Vector512.Create(*(int*)(a + 3 * cin)).AsByte();
                                    s30 += Avx512BW.MultiplyAddAdjacent(b, w0); s31 += Avx512BW.MultiplyAddAdjacent(b, w1);
                                    s32 += Avx512BW.MultiplyAddAdjacent(b, w2); s33 += Avx512BW.MultiplyAddAdjacent(b, w3);
                                }
                                k = t * quads + q1;
                            }
                            bool first = k0 == 0;
                            Widen(o, first, s00, s01, s02, s03, ones);
                            Widen(o + os, first, s10, s11, s12, s13, ones);
                            Widen(o + 2 * os, first, s20, s21, s22, s23, ones);
                            Widen(o + 3 * os, first, s30, s31, s32, s33, ones);
                        }
                        if (!full)
                            for (int p = 0; p < width - x; p++)
                                new Span<int>(tail + p * 64, 64).CopyTo(new Span<int>(pout + ((y - accRow0) * width + x + p) * cout + cb, 64));
                    }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static unsafe void Widen(int* o, bool first, Vector512<short> s0, Vector512<short> s1, Vector512<short> s2, Vector512<short> s3, Vector512<short> ones)
    {
        var v0 = Avx512BW.MultiplyAddAdjacent(s0, ones); var v1 = Avx512BW.MultiplyAddAdjacent(s1, ones);
        var v2 = Avx512BW.MultiplyAddAdjacent(s2, ones); var v3 = Avx512BW.MultiplyAddAdjacent(s3, ones);
        if (!first)
        {
            v0 += Vector512.Load(o); v1 += Vector512.Load(o + 16);
            v2 += Vector512.Load(o + 32); v3 += Vector512.Load(o + 48);
        }
        v0.Store(o); v1.Store(o + 16); v2.Store(o + 32); v3.Store(o + 48);
    }
}
