using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace RefQsr.Kernels;

public static partial class QuantConv3x3
{
    // The Vector512 pair path (Avx512PairRows) in Vector256 registers, for CPUs with AVX2 and
    // no AVX-512: acc[px][co..co+31] += Σ_taps Σ_pairs pmaddwd(broadcast(a[2k], a[2k+1]),
    // w[tap][k][co..co+31][2]), 2 pixels x 32 channels in 8 accumulators (with 4 weight
    // registers and the broadcasts, 14 of AVX2's 16). Exact at any bit-width as there: codes
    // ≤ 255 and weights in [-128, 127] are exact int16, and vpmaddwd adds two products into
    // int32 without saturation. No horizontal sums, unlike the Avx2 path's one per output.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static unsafe void Avx2PairRows(ushort[] wide, int pw, QuantConvWeights w, short[] pairCodes, int[] acc, int accRow0, int width, int r0, int r1)
    {
        int cin = w.InChannels, cout = w.OutChannels, pairs = cin / 2;
        fixed (ushort* pin = wide)
        fixed (short* pwt = pairCodes)
        fixed (int* pout = acc)
        {
            for (int y = r0; y < r1; y++)
                for (int cb = 0; cb < cout; cb += 32)
                {
                    int x = 0;
                    for (; x + 1 < width; x += 2)
                    {
                        Vector256<int> a00 = default, a01 = default, a02 = default, a03 = default;
                        Vector256<int> a10 = default, a11 = default, a12 = default, a13 = default;
                        for (int ky = 0; ky < 3; ky++)
                            for (int kx = 0; kx < 3; kx++)
                            {
                                int* src = (int*)(pin + ((y + ky) * pw + x + kx) * cin);
                                short* wt = pwt + ((ky * 3 + kx) * pairs * cout + cb) * 2;
                                for (int k = 0; k < pairs; k++, wt += cout * 2)
                                {
                                    var w0 = Vector256.Load(wt); var w1 = Vector256.Load(wt + 16);
                                    var w2 = Vector256.Load(wt + 32); var w3 = Vector256.Load(wt + 48);
                                    var b0 = Vector256.Create(src[k]).AsInt16();
                                    var b1 = Vector256.Create(src[k + pairs]).AsInt16();
                                    a00 += Avx2.MultiplyAddAdjacent(b0, w0); a01 += Avx2.MultiplyAddAdjacent(b0, w1);
                                    a02 += Avx2.MultiplyAddAdjacent(b0, w2); a03 += Avx2.MultiplyAddAdjacent(b0, w3);
                                    a10 += Avx2.MultiplyAddAdjacent(b1, w0); a11 += Avx2.MultiplyAddAdjacent(b1, w1);
                                    a12 += Avx2.MultiplyAddAdjacent(b1, w2); a13 += Avx2.MultiplyAddAdjacent(b1, w3);
                                }
                            }
                        int* o = pout + ((y - accRow0) * width + x) * cout + cb;
                        a00.Store(o); a01.Store(o + 8); a02.Store(o + 16); a03.Store(o + 24); o += cout;
                        a10.Store(o); a11.Store(o + 8); a12.Store(o + 16); a13.Store(o + 24);
                    }
                    for (; x < width; x++)
                    {
                        Vector256<int> a0 = default, a1 = default, a2 = default, a3 = default;
                        for (int ky = 0; ky < 3; ky++)
                            for (int kx = 0; kx < 3; kx++)
                            {
                                int* src = (int*)(pin + ((y + ky) * pw + x + kx) * cin);
                                short* wt = pwt + ((ky * 3 + kx) * pairs * cout + cb) * 2;
                                for (int k = 0; k < pairs; k++, wt += cout * 2)
                                {
                                    var b = Vector256.Create(src[k]).AsInt16();
                                    a0 += Avx2.MultiplyAddAdjacent(b, Vector256.Load(wt));
                                    a1 += Avx2.MultiplyAddAdjacent(b, Vector256.Load(wt + 16));
                                    a2 += Avx2.MultiplyAddAdjacent(b, Vector256.Load(wt + 32));
                                    a3 += Avx2.MultiplyAddAdjacent(b, Vector256.Load(wt + 48));
                                }
                            }
                        int* o = pout + ((y - accRow0) * width + x) * cout + cb;
                        a0.Store(o); a1.Store(o + 8); a2.Store(o + 16); a3.Store(o + 24);
                    }
                }
        }
    }
}
