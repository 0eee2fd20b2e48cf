using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace RefQsr.Kernels;

public static partial class QuantConv3x3
{
    /// <summary><see cref="WideWinogradRows"/> with the cross-platform Vector128 API only, for
    /// CPUs without AVX2 (older x64, ARM64's NEON): the same integer transforms and exact
    /// division (integers, so the same numbers), 8 channels per int16 vector and 4 per int32
    /// one. Without vpmaddwd the GEMM widens each transformed weight pair and activation pair
    /// to int32 and multiplies there (|U'|, |V'| &lt; 2¹⁵, so every product fits), each lane
    /// summing one channel's even or odd input channels, the two added at the end (integer
    /// sums, exact wherever the path's bound says the whole sum is).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static unsafe void WideWinogradRows128(byte[] padded, int pw, QuantConvWeights w, WideWinogradWeights u, int[] acc, int accRow0, int height, int width, int r0, int r1)
    {
        int m = u.TileRows, ny = m + 2, positions = u.Positions, T = WideChunkTiles(m);
        int cin = w.InChannels, cout = w.OutChannels, tilesX = (width + 3) / 4;
        int scale = u.Scale, shift = System.Numerics.BitOperations.TrailingZeroCount(scale);
        var inverse = Vector128.Create(OddInverse(scale >> shift));
        var inScratch = stackalloc Vector128<short>[36];
        var outScratch = stackalloc Vector128<int>[24];
        int vStride = T * cin + 32, mStride = T * 64 + 16;
        short[] vBuf = ArrayPool<short>.Shared.Rent(positions * vStride);
        int[] mBuf = ArrayPool<int>.Shared.Rent(positions * mStride);
        try
        {
            fixed (byte* pin = padded)
            fixed (short* pu = u.U, pv = vBuf)
            fixed (int* pm = mBuf, pacc = acc)
                for (int ty = r0 / m; m * ty < r1; ty++)
                {
                    int y0 = Math.Max(r0, m * ty), y1 = Math.Min(Math.Min(r1, height), m * ty + m);
                    for (int tx0 = 0; tx0 < tilesX; tx0 += T)
                    {
                        int nt = Math.Min(T, tilesX - tx0), ntUp = (nt + 3) & ~3;
                        for (int t = 0; t < nt; t++)
                            WideInputTile128(pin + ((m * ty) * pw + 4 * (tx0 + t)) * cin, pw * cin, cin, ny, pv + t * cin, vStride, inScratch);
                        for (int t = nt; t < ntUp; t++)
                            for (int p = 0; p < positions; p++) new Span<short>(pv + p * vStride + t * cin, cin).Clear();
                        for (int cb = 0; cb < cout; cb += 64)
                        {
                            for (int p = 0; p < positions; p++)
                            {
                                short* up = pu + (p * (cin / 2) * cout + cb) * 2, v = pv + p * vStride;
                                int* mp = pm + p * mStride;
                                for (int t = 0; t < ntUp; t += 4)
                                    for (int c = 0; c < 64; c += 4) IntGemm4x4Portable(v + t * cin, up + 2 * c, cin, cout, mp + t * 64 + c);
                            }
                            for (int t = 0; t < nt; t++)
                            {
                                int x = 4 * (tx0 + t);
                                WideOutputTile128(pm + t * 64, mStride, m, pacc, accRow0, y0, y1, m * ty, x, Math.Min(4, width - x), width, cb, cout, inverse, shift, outScratch);
                            }
                        }
                    }
                }
        }
        finally
        {
            ArrayPool<short>.Shared.Return(vBuf);
            ArrayPool<int>.Shared.Return(mBuf);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static unsafe Vector128<short> Widen128(byte* p) => Vector128.WidenLower(Vector128.CreateScalar(*(ulong*)p).AsByte()).AsInt16();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static unsafe void WideInputTile128(byte* d, int rowStride, int cin, int ny, short* v, int pStride, Vector128<short>* scratch)
    {
        for (int c = 0; c < cin; c += 8)
        {
            for (int j = 0; j < 6; j++)
            {
                byte* col = d + j * cin + c;
                Vector128<short>* s = scratch + j;
                if (ny == 4)
                {
                    var d0 = Widen128(col); var d1 = Widen128(col + rowStride); var d2 = Widen128(col + 2 * rowStride); var d3 = Widen128(col + 3 * rowStride);
                    s[0] = d0 - d2; s[6] = d1 + d2; s[12] = d2 - d1; s[18] = d1 - d3;
                }
                else
                    InputTransform6(Widen128(col), Widen128(col + rowStride), Widen128(col + 2 * rowStride), Widen128(col + 3 * rowStride), Widen128(col + 4 * rowStride), Widen128(col + 5 * rowStride),
                        out s[0], out s[6], out s[12], out s[18], out s[24], out s[30]);
            }
            for (int i = 0; i < ny; i++)
            {
                Vector128<short>* s = scratch + 6 * i;
                InputTransform6(s[0], s[1], s[2], s[3], s[4], s[5], out var e0, out var e1, out var e2, out var e3, out var e4, out var e5);
                short* o = v + 6 * i * pStride + c;
                e0.Store(o); e1.Store(o + pStride); e2.Store(o + 2 * pStride);
                e3.Store(o + 3 * pStride); e4.Store(o + 4 * pStride); e5.Store(o + 5 * pStride);
            }
        }
    }

    /// <summary><see cref="InputTransform6(Vector512{short}, Vector512{short}, Vector512{short}, Vector512{short}, Vector512{short}, Vector512{short}, out Vector512{short}, out Vector512{short}, out Vector512{short}, out Vector512{short}, out Vector512{short}, out Vector512{short})"/> on Vector128.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void InputTransform6(Vector128<short> d0, Vector128<short> d1, Vector128<short> d2, Vector128<short> d3, Vector128<short> d4, Vector128<short> d5,
        out Vector128<short> t0, out Vector128<short> t1, out Vector128<short> t2, out Vector128<short> t3, out Vector128<short> t4, out Vector128<short> t5)
    {
        var g = d1 - d3; var h = d4 - d2;
        t0 = ((d0 - d2) << 2) + h;
        t1 = d3 + d4 - ((d1 + d2) << 2);
        t2 = ((d1 - d2) << 2) + d4 - d3;
        t3 = h - (g << 1);
        t4 = h + (g << 1);
        t5 = (g << 2) + d5 - d3;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void OutputTransform6(Vector128<int> m0, Vector128<int> m1, Vector128<int> m2, Vector128<int> m3, Vector128<int> m4, Vector128<int> m5,
        out Vector128<int> y0, out Vector128<int> y1, out Vector128<int> y2, out Vector128<int> y3)
    {
        var a = m1 + m2; var b = m1 - m2; var c = m3 + m4; var e = m3 - m4;
        y0 = m0 + a + c;
        y1 = b + (e << 1);
        y2 = a + (c << 2);
        y3 = b + (e << 3) + m5;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static unsafe void WideOutputTile128(int* mp, int pStride, int m, int* acc, int accRow0, int y0, int y1, int tileY, int x, int cols, int width, int cb, int cout,
        Vector128<int> inverse, int shift, Vector128<int>* scratch)
    {
        for (int c = 0; c < 64; c += 4)
        {
            for (int j = 0; j < 6; j++)
            {
                int* q = mp + j * pStride + c;
                Vector128<int>* s = scratch + j;
                int rs = 6 * pStride;
                if (m == 2)
                {
                    var e0 = Vector128.Load(q); var e1 = Vector128.Load(q + rs); var e2 = Vector128.Load(q + 2 * rs); var e3 = Vector128.Load(q + 3 * rs);
                    s[0] = e0 + e1 + e2; s[6] = e1 - e2 - e3;
                }
                else
                    OutputTransform6(Vector128.Load(q), Vector128.Load(q + rs), Vector128.Load(q + 2 * rs), Vector128.Load(q + 3 * rs), Vector128.Load(q + 4 * rs), Vector128.Load(q + 5 * rs),
                        out s[0], out s[6], out s[12], out s[18]);
            }
            for (int y = y0; y < y1; y++)
            {
                Vector128<int>* s = scratch + 6 * (y - tileY);
                OutputTransform6(s[0], s[1], s[2], s[3], s[4], s[5], out var o0, out var o1, out var o2, out var o3);
                int* o = acc + ((long)(y - accRow0) * width + x) * cout + cb + c;
                ((o0 * inverse) >> shift).Store(o);
                if (cols > 1) ((o1 * inverse) >> shift).Store(o + cout);
                if (cols > 2) ((o2 * inverse) >> shift).Store(o + 2 * cout);
                if (cols > 3) ((o3 * inverse) >> shift).Store(o + 3 * cout);
            }
        }
    }

    /// <summary>Four tiles' products at one position for 4 output channels (u points at the
    /// first channel's pair; the tiles' rows of M are 64 ints apart).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static unsafe void IntGemm4x4Portable(short* v, short* u, int cin, int cout, int* m)
    {
        // lanes: channel 0 even, channel 0 odd, channel 1 even, channel 1 odd (lo); 2, 3 (hi)
        Vector128<int> a0 = default, a1 = default, b0 = default, b1 = default;
        Vector128<int> c0 = default, c1 = default, e0 = default, e1 = default;
        int* va = (int*)v, vb = (int*)(v + cin), vc = (int*)(v + 2 * cin), ve = (int*)(v + 3 * cin);
        for (int cp = 0; cp < cin / 2; cp++, u += 2 * cout)
        {
            var (w0, w1) = Vector128.Widen(Vector128.Load(u));
            var x = Vector128.WidenLower(Vector128.Create(va[cp]).AsInt16());
            a0 += w0 * x; a1 += w1 * x;
            x = Vector128.WidenLower(Vector128.Create(vb[cp]).AsInt16());
            b0 += w0 * x; b1 += w1 * x;
            x = Vector128.WidenLower(Vector128.Create(vc[cp]).AsInt16());
            c0 += w0 * x; c1 += w1 * x;
            x = Vector128.WidenLower(Vector128.Create(ve[cp]).AsInt16());
            e0 += w0 * x; e1 += w1 * x;
        }
        StorePairSums(a0, a1, m); StorePairSums(b0, b1, m + 64);
        StorePairSums(c0, c1, m + 128); StorePairSums(e0, e1, m + 192);
    }

    /// <summary>m[0..3] = the sums of lanes (0, 1) and (2, 3) of lo, then of hi.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static unsafe void StorePairSums(Vector128<int> lo, Vector128<int> hi, int* m)
    {
        var even = Vector128.Create(lo.GetElement(0), lo.GetElement(2), hi.GetElement(0), hi.GetElement(2));
        var odd = Vector128.Create(lo.GetElement(1), lo.GetElement(3), hi.GetElement(1), hi.GetElement(3));
        (even + odd).Store(m);
    }
}
