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

    // 2 pixels x 64 output channels: vpmaddubsw of a broadcast 4-byte activation group
    // against [co][4] weight bytes gives, per output channel, two int16 lanes; those are
    // summed in int16 for `steps` groups, then widened with vpmaddwd(·, 1) into int32.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static unsafe void Avx512Int16Rows(byte[] padded, int pw, QuantConvWeights w, int[] acc, int width, int r0, int r1, int steps)
    {
        int cin = w.InChannels, cout = w.OutChannels, quads = cin / 4, groups = 9 * quads;
        var ones = Vector512.Create((short)1);
        fixed (byte* pin = padded)
        fixed (sbyte* pwt = w.Quads)
        fixed (int* pout = acc)
        {
            for (int y = r0; y < r1; y++)
                for (int cb = 0; cb < cout; cb += 64)
                    for (int x = 0; x < width; x += 2)
                    {
                        bool two = x + 1 < width;
                        Vector512<int> i00 = default, i01 = default, i02 = default, i03 = default;
                        Vector512<int> i10 = default, i11 = default, i12 = default, i13 = default;
                        Vector512<short> s00 = default, s01 = default, s02 = default, s03 = default;
                        Vector512<short> s10 = default, s11 = default, s12 = default, s13 = default;
                        int pending = 0, left = groups;
                        for (int t = 0; t < 9; t++)
                        {
                            int ky = t / 3, kx = t - ky * 3;
                            byte* src = pin + ((y + ky) * pw + x + kx) * cin;
                            sbyte* wt = pwt + (t * quads * cout + cb) * 4;
                            for (int q = 0; q < quads; q++, src += 4, wt += cout * 4)
                            {
                                var w0 = Vector512.Load(wt); var w1 = Vector512.Load(wt + 64);
                                var w2 = Vector512.Load(wt + 128); var w3 = Vector512.Load(wt + 192);
                                var a = Vector512.Create(*(int*)src).AsByte();
                                // the second pixel may be past the right edge: it reads padding, never stored
                                var b = Vector512.Create(*(int*)(src + cin)).AsByte();
                                s00 += Avx512BW.MultiplyAddAdjacent(a, w0); s01 += Avx512BW.MultiplyAddAdjacent(a, w1);
                                s02 += Avx512BW.MultiplyAddAdjacent(a, w2); s03 += Avx512BW.MultiplyAddAdjacent(a, w3);
                                s10 += Avx512BW.MultiplyAddAdjacent(b, w0); s11 += Avx512BW.MultiplyAddAdjacent(b, w1);
                                s12 += Avx512BW.MultiplyAddAdjacent(b, w2); s13 += Avx512BW.MultiplyAddAdjacent(b, w3);
                                left--;
                                if (++pending == steps || left == 0)
                                {
                                    i00 += Avx512BW.MultiplyAddAdjacent(s00, ones); i01 += Avx512BW.MultiplyAddAdjacent(s01, ones);
                                    i02 += Avx512BW.MultiplyAddAdjacent(s02, ones); i03 += Avx512BW.MultiplyAddAdjacent(s03, ones);
                                    i10 += Avx512BW.MultiplyAddAdjacent(s10, ones); i11 += Avx512BW.MultiplyAddAdjacent(s11, ones);
                                    i12 += Avx512BW.MultiplyAddAdjacent(s12, ones); i13 += Avx512BW.MultiplyAddAdjacent(s13, ones);
                                    s00 = s01 = s02 = s03 = s10 = s11 = s12 = s13 = default;
                                    pending = 0;
                                }
                            }
                        }
                        int* o = pout + (y * width + x) * cout + cb;
                        i00.Store(o); i01.Store(o + 16); i02.Store(o + 32); i03.Store(o + 48);
                        if (two)
                        {
                            o += cout;
                            i10.Store(o); i11.Store(o + 16); i12.Store(o + 32); i13.Store(o + 48);
                        }
                    }
        }
    }
}
