using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace RefQsr.Kernels;

public static partial class QuantConv3x3
{
    /// <summary>Padded activations widened to uint16 once per conv, so two neighbouring
    /// input channels read as one int32 to broadcast (pooled, ring and slack as
    /// <see cref="Padding.Rent"/>). Vector512 (or Vector256) widening, rows split over threads: as a scalar
    /// loop this copy was a fifth of an 8-bit conv's time and most of its serial part.</summary>
    internal static unsafe ushort[] RentPaddedWide(ReadOnlySpan<byte> codes, int h, int w, int c, int threads = 1)
    {
        int pw = w + 2, len = checked((h + 2) * pw * c + Int16TilePixels * c);
        if (codes.Length < h * w * c) throw new ArgumentException($"conv: input has {codes.Length} values, needs {h * w * c}");
        var p = ArrayPool<ushort>.Shared.Rent(len);
        Padding.ClearRing(p.AsSpan(0, len), h, w, c, 1);
        fixed (byte* src0 = codes)
        {
            byte* src = src0;   // a pointer, so the lambda can capture it
            RowParallel.For(h, threads, (r0, r1) =>
            {
                fixed (ushort* dst0 = p)
                    for (int y = r0; y < r1; y++)
                    {
                        byte* s = src + (long)y * w * c;
                        ushort* d = dst0 + ((y + 1) * pw + 1) * c;
                        int n = w * c, i = 0;
                        if (Avx512BW.IsSupported)
                            for (; i + 32 <= n; i += 32)
                                Avx512BW.ConvertToVector512UInt16(Vector256.Load(s + i)).Store(d + i);
                        else if (Avx2.IsSupported)
                            for (; i + 16 <= n; i += 16)
                                Avx2.ConvertToVector256Int16(Vector128.Load(s + i)).AsUInt16().Store(d + i);
                        for (; i < n; i++) d[i] = s[i];
                    }
            });
        }
        return p;
    }

    // acc[px][co..co+63] += Σ_taps Σ_pairs pmaddwd(broadcast(a[2k], a[2k+1]), w[tap][k][co..co+63][2]).
    // Activation codes ≤ 255 and weight codes in [-128, 127] are exact in int16, and
    // vpmaddwd sums two int16 products into int32 without saturation: exact at any bit-width.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static unsafe void Avx512PairRows(ushort[] wide, int pw, QuantConvWeights w, short[] pairCodes, int[] acc, int accRow0, int width, int r0, int r1)
    {
        int cin = w.InChannels, cout = w.OutChannels, pairs = cin / 2;
        fixed (ushort* pin = wide)
        fixed (short* pwt = pairCodes)
        fixed (int* pout = acc)
        {
            for (int y = r0; y < r1; y++)
                for (int cb = 0; cb < cout; cb += 64)
                {
                    int x = 0;
                    for (; x + 3 < width; x += 4)
                    {
                        Vector512<int> a00 = default, a01 = default, a02 = default, a03 = default;
                        Vector512<int> a10 = default, a11 = default, a12 = default, a13 = default;
                        Vector512<int> a20 = default, a21 = default, a22 = default, a23 = default;
                        Vector512<int> a30 = default, a31 = default, a32 = default, a33 = default;
                        for (int ky = 0; ky < 3; ky++)
                            for (int kx = 0; kx < 3; kx++)
                            {
                                int* src = (int*)(pin + ((y + ky) * pw + x + kx) * cin);
                                short* wt = pwt + ((ky * 3 + kx) * pairs * cout + cb) * 2;
                                for (int k = 0; k < pairs; k++, wt += cout * 2)
                                {
                                    var w0 = Vector512.Load(wt); var w1 = Vector512.Load(wt + 32);
                                    var w2 = Vector512.Load(wt + 64); var w3 = Vector512.Load(wt + 96);
                                    var b0 = Vector512.Create(src[k]).AsInt16();
                                    var b1 = Vector512.Create(src[k + pairs]).AsInt16();
                                    var b2 = Vector512.Create(src[k + 2 * pairs]).AsInt16();
                                    var b3 = Vector512.Create(src[k + 3 * pairs]).AsInt16();
                                    a00 += Avx512BW.MultiplyAddAdjacent(b0, w0); a01 += Avx512BW.MultiplyAddAdjacent(b0, w1);
                                    a02 += Avx512BW.MultiplyAddAdjacent(b0, w2); a03 += Avx512BW.MultiplyAddAdjacent(b0, w3);
                                    a10 += Avx512BW.MultiplyAddAdjacent(b1, w0); a11 += Avx512BW.MultiplyAddAdjacent(b1, w1);
                                    a12 += Avx512BW.MultiplyAddAdjacent(b1, w2); a13 += Avx512BW.MultiplyAddAdjacent(b1, w3);
                                    a20 += Avx512BW.MultiplyAddAdjacent(b2, w0); a21 += Avx512BW.MultiplyAddAdjacent(b2, w1);
                                    a22 += Avx512BW.MultiplyAddAdjacent(b2, w2); a23 += Avx512BW.MultiplyAddAdjacent(b2, w3);
                                    a30 += Avx512BW.MultiplyAddAdjacent(b3, w0); a31 += Avx512BW.MultiplyAddAdjacent(b3, w1);
                                    a32 += Avx512BW.MultiplyAddAdjacent(b3, w2); a33 += Avx512BW.MultiplyAddAdjacent(b3, w3);
                                }
                            }
                        int* o = pout + ((y - accRow0) * width + x) * cout + cb;
                        a00.Store(o); a01.Store(o + 16); a02.Store(o + 32); a03.Store(o + 48); o += cout;
                        a10.Store(o); a11.Store(o + 16); a12.Store(o + 32); a13.Store(o + 48); o += cout;
                        a20.Store(o); a21.Store(o + 16); a22.Store(o + 32); a23.Store(o + 48); o += cout;
                        a30.Store(o); a31.Store(o + 16); a32.Store(o + 32); a33.Store(o + 48);
                    }
                    for (; x < width; x++)
                    {
                        Vector512<int> a0 = default, a1 = default, a2 = default, a3 = default;
                        for (int ky = 0; ky < 3; ky++)
                            for (int kx = 0; kx < 3; kx++)
                            {
                                int* src = (int*)(pin + ((y + ky) * pw + x + kx) * cin);
                                short* wt = pwt + ((ky * 3 + kx) * pairs * cout + cb) * 2;
                                for (int k = 0; k < pairs; k++, wt += cout * 2)
                                {
                                    var b = Vector512.Create(src[k]).AsInt16();
                                    a0 += Avx512BW.MultiplyAddAdjacent(b, Vector512.Load(wt));
                                    a1 += Avx512BW.MultiplyAddAdjacent(b, Vector512.Load(wt + 32));
                                    a2 += Avx512BW.MultiplyAddAdjacent(b, Vector512.Load(wt + 64));
                                    a3 += Avx512BW.MultiplyAddAdjacent(b, Vector512.Load(wt + 96));
                                }
                            }
                        int* o = pout + ((y - accRow0) * width + x) * cout + cb;
                        a0.Store(o); a1.Store(o + 16); a2.Store(o + 32); a3.Store(o + 48);
                    }
                }
        }
    }
}
