using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace RefQsr.Kernels;

public static partial class QuantConv3x3
{
    /// <summary>Output channels per pass of the portable path: two Vector128&lt;short&gt; of
    /// weights, four Vector128&lt;int&gt; of sums per pixel.</summary>
    const int PortableChannels = 16;

    /// <summary>Where the portable path runs: hardware Vector128 (SSE on x64, AdvSimd on ARM64)
    /// and output channels in blocks of 16.</summary>
    static bool PortableVectorizable(QuantConvWeights w) => Vector128.IsHardwareAccelerated && w.OutChannels % PortableChannels == 0;

    /// <summary>The weights as int16 [tap][in][out], what <see cref="PortableRows"/> loads 8
    /// output channels at a time (pooled: return to <see cref="ArrayPool{T}.Shared"/>).</summary>
    static short[] PortableWeights(QuantConvWeights w)
    {
        int cin = w.InChannels, cout = w.OutChannels;
        var oihw = w.UnpackOihw();
        var t = ArrayPool<short>.Shared.Rent(9 * cin * cout);
        for (int co = 0; co < cout; co++)
            for (int ci = 0; ci < cin; ci++)
                for (int tap = 0; tap < 9; tap++)
                    t[(tap * cin + ci) * cout + co] = oihw[(co * cin + ci) * 9 + tap];
        return t;
    }

    /// <summary>Rows r0 .. r1−1 with the cross-platform Vector128 API only, for CPUs without
    /// AVX2 (older x64, and ARM64, where it is NEON): a broadcast activation code times 8 output
    /// channels' weight codes in int16 lanes is exact (|a·w| ≤ 255·128 &lt; 2¹⁵), widened to
    /// int32 and summed; 2 pixels x 16 channels (8 sums) per pass. The sums are the reference's
    /// exactly, as on every path.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static unsafe void PortableRows(byte[] padded, int pw, QuantConvWeights w, short[] weights, int[] acc, int accRow0, int width, int r0, int r1)
    {
        int cin = w.InChannels, cout = w.OutChannels;
        fixed (byte* pin = padded)
        fixed (short* pwt = weights)
        fixed (int* pout = acc)
        {
            for (int y = r0; y < r1; y++)
                for (int cb = 0; cb < cout; cb += PortableChannels)
                {
                    int x = 0;
                    for (; x + 1 < width; x += 2)
                    {
                        Vector128<int> a0 = default, a1 = default, a2 = default, a3 = default;
                        Vector128<int> b0 = default, b1 = default, b2 = default, b3 = default;
                        for (int ky = 0; ky < 3; ky++)
                            for (int kx = 0; kx < 3; kx++)
                            {
                                byte* p = pin + ((y + ky) * pw + x + kx) * cin;
                                short* wt = pwt + (ky * 3 + kx) * cin * cout + cb;
                                for (int ci = 0; ci < cin; ci++, wt += cout)
                                {
                                    var w0 = Vector128.Load(wt); var w1 = Vector128.Load(wt + 8);
                                    var va = Vector128.Create((short)p[ci]);
                                    var vb = Vector128.Create((short)p[ci + cin]);
                                    var (l, u) = Vector128.Widen(va * w0); a0 += l; a1 += u;
                                    (l, u) = Vector128.Widen(va * w1); a2 += l; a3 += u;
                                    (l, u) = Vector128.Widen(vb * w0); b0 += l; b1 += u;
                                    (l, u) = Vector128.Widen(vb * w1); b2 += l; b3 += u;
                                }
                            }
                        int* o = pout + ((y - accRow0) * width + x) * cout + cb;
                        a0.Store(o); a1.Store(o + 4); a2.Store(o + 8); a3.Store(o + 12);
                        o += cout;
                        b0.Store(o); b1.Store(o + 4); b2.Store(o + 8); b3.Store(o + 12);
                    }
                    for (; x < width; x++)
                    {
                        Vector128<int> a0 = default, a1 = default, a2 = default, a3 = default;
                        for (int ky = 0; ky < 3; ky++)
                            for (int kx = 0; kx < 3; kx++)
                            {
                                byte* p = pin + ((y + ky) * pw + x + kx) * cin;
                                short* wt = pwt + (ky * 3 + kx) * cin * cout + cb;
                                for (int ci = 0; ci < cin; ci++, wt += cout)
                                {
                                    var va = Vector128.Create((short)p[ci]);
                                    var (l, u) = Vector128.Widen(va * Vector128.Load(wt)); a0 += l; a1 += u;
                                    (l, u) = Vector128.Widen(va * Vector128.Load(wt + 8)); a2 += l; a3 += u;
                                }
                            }
                        int* o = pout + ((y - accRow0) * width + x) * cout + cb;
                        a0.Store(o); a1.Store(o + 4); a2.Store(o + 8); a3.Store(o + 12);
                    }
                }
        }
    }
}
