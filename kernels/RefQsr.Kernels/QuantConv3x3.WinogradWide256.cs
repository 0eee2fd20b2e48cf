using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace RefQsr.Kernels;

public static partial class QuantConv3x3
{
    /// <summary><see cref="WideWinogradRows"/> in Vector256 registers, for CPUs with AVX2 and no
    /// AVX-512: the same integer transforms, products and exact division (integers, so the same
    /// numbers), 16 channels per int16 vector and 8 per int32 one; the GEMM takes 4 tiles x 16
    /// output channels at a time (8 accumulators of AVX2's 16 registers).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static unsafe void WideWinogradRows256(byte[] padded, int pw, QuantConvWeights w, WideWinogradWeights u, int[] acc, int accRow0, int height, int width, int r0, int r1)
    {
        int m = u.TileRows, ny = m + 2, positions = u.Positions, T = WideChunkTiles(m);
        int cin = w.InChannels, cout = w.OutChannels, tilesX = (width + 3) / 4;
        int scale = u.Scale, shift = System.Numerics.BitOperations.TrailingZeroCount(scale);
        var inverse = Vector256.Create(OddInverse(scale >> shift));
        var inScratch = stackalloc Vector256<short>[36];
        var outScratch = stackalloc Vector256<int>[24];
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
                            WideInputTile256(pin + ((m * ty) * pw + 4 * (tx0 + t)) * cin, pw * cin, cin, ny, pv + t * cin, vStride, inScratch);
                        for (int t = nt; t < ntUp; t++)
                            for (int p = 0; p < positions; p++) new Span<short>(pv + p * vStride + t * cin, cin).Clear();
                        for (int cb = 0; cb < cout; cb += 64)
                        {
                            for (int p = 0; p < positions; p++)
                            {
                                short* up = pu + (p * (cin / 2) * cout + cb) * 2, v = pv + p * vStride;
                                int* mp = pm + p * mStride;
                                for (int t = 0; t < ntUp; t += 4)
                                    for (int c = 0; c < 64; c += 16) IntGemm4x16(v + t * cin, up + 2 * c, cin, cout, mp + t * 64 + c);
                            }
                            for (int t = 0; t < nt; t++)
                            {
                                int x = 4 * (tx0 + t);
                                WideOutputTile256(pm + t * 64, mStride, m, pacc, accRow0, y0, y1, m * ty, x, Math.Min(4, width - x), width, cb, cout, inverse, shift, outScratch);
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
    static unsafe Vector256<short> Widen256(byte* p) => Avx2.ConvertToVector256Int16(Vector128.Load(p));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static unsafe void WideInputTile256(byte* d, int rowStride, int cin, int ny, short* v, int pStride, Vector256<short>* scratch)
    {
        for (int c = 0; c < cin; c += 16)
        {
            for (int j = 0; j < 6; j++)
            {
                byte* col = d + j * cin + c;
                Vector256<short>* s = scratch + j;
                if (ny == 4)
                {
                    var d0 = Widen256(col); var d1 = Widen256(col + rowStride); var d2 = Widen256(col + 2 * rowStride); var d3 = Widen256(col + 3 * rowStride);
                    s[0] = d0 - d2; s[6] = d1 + d2; s[12] = d2 - d1; s[18] = d1 - d3;
                }
                else
                    InputTransform6(Widen256(col), Widen256(col + rowStride), Widen256(col + 2 * rowStride), Widen256(col + 3 * rowStride), Widen256(col + 4 * rowStride), Widen256(col + 5 * rowStride),
                        out s[0], out s[6], out s[12], out s[18], out s[24], out s[30]);
            }
            for (int i = 0; i < ny; i++)
            {
                Vector256<short>* s = scratch + 6 * i;
                InputTransform6(s[0], s[1], s[2], s[3], s[4], s[5], out var e0, out var e1, out var e2, out var e3, out var e4, out var e5);
                short* o = v + 6 * i * pStride + c;
                e0.Store(o); e1.Store(o + pStride); e2.Store(o + 2 * pStride);
                e3.Store(o + 3 * pStride); e4.Store(o + 4 * pStride); e5.Store(o + 5 * pStride);
            }
        }
    }

    /// <summary><see cref="InputTransform6(Vector512{short}, Vector512{short}, Vector512{short}, Vector512{short}, Vector512{short}, Vector512{short}, out Vector512{short}, out Vector512{short}, out Vector512{short}, out Vector512{short}, out Vector512{short}, out Vector512{short})"/> on Vector256.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void InputTransform6(Vector256<short> d0, Vector256<short> d1, Vector256<short> d2, Vector256<short> d3, Vector256<short> d4, Vector256<short> d5,
        out Vector256<short> t0, out Vector256<short> t1, out Vector256<short> t2, out Vector256<short> t3, out Vector256<short> t4, out Vector256<short> t5)
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
    static void OutputTransform6(Vector256<int> m0, Vector256<int> m1, Vector256<int> m2, Vector256<int> m3, Vector256<int> m4, Vector256<int> m5,
        out Vector256<int> y0, out Vector256<int> y1, out Vector256<int> y2, out Vector256<int> y3)
    {
        var a = m1 + m2; var b = m1 - m2; var c = m3 + m4; var e = m3 - m4;
        y0 = m0 + a + c;
        y1 = b + (e << 1);
        y2 = a + (c << 2);
        y3 = b + (e << 3) + m5;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static unsafe void WideOutputTile256(int* mp, int pStride, int m, int* acc, int accRow0, int y0, int y1, int tileY, int x, int cols, int width, int cb, int cout,
        Vector256<int> inverse, int shift, Vector256<int>* scratch)
    {
        for (int c = 0; c < 64; c += 8)
        {
            for (int j = 0; j < 6; j++)
            {
                int* q = mp + j * pStride + c;
                Vector256<int>* s = scratch + j;
                int rs = 6 * pStride;
                if (m == 2)
                {
                    var e0 = Vector256.Load(q); var e1 = Vector256.Load(q + rs); var e2 = Vector256.Load(q + 2 * rs); var e3 = Vector256.Load(q + 3 * rs);
                    s[0] = e0 + e1 + e2; s[6] = e1 - e2 - e3;
                }
                else
                    OutputTransform6(Vector256.Load(q), Vector256.Load(q + rs), Vector256.Load(q + 2 * rs), Vector256.Load(q + 3 * rs), Vector256.Load(q + 4 * rs), Vector256.Load(q + 5 * rs),
                        out s[0], out s[6], out s[12], out s[18]);
            }
            for (int y = y0; y < y1; y++)
            {
                Vector256<int>* s = scratch + 6 * (y - tileY);
                OutputTransform6(s[0], s[1], s[2], s[3], s[4], s[5], out var o0, out var o1, out var o2, out var o3);
                int* o = acc + ((long)(y - accRow0) * width + x) * cout + cb + c;
                ((o0 * inverse) >> shift).Store(o);
                if (cols > 1) ((o1 * inverse) >> shift).Store(o + cout);
                if (cols > 2) ((o2 * inverse) >> shift).Store(o + 2 * cout);
                if (cols > 3) ((o3 * inverse) >> shift).Store(o + 3 * cout);
            }
        }
    }

    /// <summary>Four tiles' products at one position for 16 output channels (u points at the
    /// first channel's pair; the tiles' rows of M are 64 ints apart): vpmaddwd of each
    /// broadcast activation pair against 8 channels' weight pairs.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static unsafe void IntGemm4x16(short* v, short* u, int cin, int cout, int* m)
    {
        Vector256<int> a0 = default, a1 = default, b0 = default, b1 = default;
        Vector256<int> c0 = default, c1 = default, e0 = default, e1 = default;
        int* va = (int*)v, vb = (int*)(v + cin), vc = (int*)(v + 2 * cin), ve = (int*)(v + 3 * cin);
        for (int cp = 0; cp < cin / 2; cp++, u += 2 * cout)
        {
            var w0 = Vector256.Load(u); var w1 = Vector256.Load(u + 16);
            var x = Vector256.Create(va[cp]).AsInt16();
            a0 += Avx2.MultiplyAddAdjacent(x, w0); a1 += Avx2.MultiplyAddAdjacent(x, w1);
            x = Vector256.Create(vb[cp]).AsInt16();
            b0 += Avx2.MultiplyAddAdjacent(x, w0); b1 += Avx2.MultiplyAddAdjacent(x, w1);
            x = Vector256.Create(vc[cp]).AsInt16();
            c0 += Avx2.MultiplyAddAdjacent(x, w0); c1 += Avx2.MultiplyAddAdjacent(x, w1);
            x = Vector256.Create(ve[cp]).AsInt16();
            e0 += Avx2.MultiplyAddAdjacent(x, w0); e1 += Avx2.MultiplyAddAdjacent(x, w1);
        }
        a0.Store(m); a1.Store(m + 8);
        b0.Store(m + 64); b1.Store(m + 72);
        c0.Store(m + 128); c1.Store(m + 136);
        e0.Store(m + 192); e1.Store(m + 200);
    }
}
