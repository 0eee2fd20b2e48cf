using System.Buffers;
using System.Runtime.CompilerServices;

namespace RefQsr.Kernels;

public static partial class QuantConv3x3
{
    /// <summary><see cref="WideWinogradRows"/> in registers narrower than AVX-512's, written once
    /// (<see cref="IIntVectors{TS, TI}"/>: <see cref="Int256"/> on CPUs with AVX2, <see cref="Int128"/>,
    /// the cross-platform Vector128 API, elsewhere): the same integer transforms, products and
    /// exact division (integers, so the same numbers), ShortCount channels per int16 vector and
    /// half as many per int32 one; the GEMM takes 4 tiles x GemmChannels output channels.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static unsafe void WideWinogradRowsNarrow<TOps, TS, TI>(byte[] padded, int pw, QuantConvWeights w, WideWinogradWeights u, int[] acc, int accRow0, int height, int width, int r0, int r1)
        where TOps : IIntVectors<TS, TI> where TS : unmanaged where TI : unmanaged
    {
        int m = u.TileRows, ny = m + 2, positions = u.Positions, T = WideChunkTiles(m);
        int cin = w.InChannels, cout = w.OutChannels, tilesX = (width + 3) / 4;
        int scale = u.Scale, shift = System.Numerics.BitOperations.TrailingZeroCount(scale);
        var inverse = TOps.Broadcast(OddInverse(scale >> shift));
        var inScratch = stackalloc TS[36];
        var outScratch = stackalloc TI[24];
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
                            WideInputTileNarrow<TOps, TS, TI>(pin + ((m * ty) * pw + 4 * (tx0 + t)) * cin, pw * cin, cin, ny, pv + t * cin, vStride, inScratch);
                        for (int t = nt; t < ntUp; t++)
                            for (int p = 0; p < positions; p++) new Span<short>(pv + p * vStride + t * cin, cin).Clear();
                        for (int cb = 0; cb < cout; cb += 64)
                        {
                            for (int p = 0; p < positions; p++)
                            {
                                short* up = pu + (p * (cin / 2) * cout + cb) * 2, v = pv + p * vStride;
                                int* mp = pm + p * mStride;
                                for (int t = 0; t < ntUp; t += 4)
                                    for (int c = 0; c < 64; c += TOps.GemmChannels) TOps.Gemm4(v + t * cin, up + 2 * c, cin, cout, mp + t * 64 + c);
                            }
                            for (int t = 0; t < nt; t++)
                            {
                                int x = 4 * (tx0 + t);
                                WideOutputTileNarrow<TOps, TS, TI>(pm + t * 64, mStride, m, pacc, accRow0, y0, y1, m * ty, x, Math.Min(4, width - x), width, cb, cout, inverse, shift, outScratch);
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
    static unsafe void WideInputTileNarrow<TOps, TS, TI>(byte* d, int rowStride, int cin, int ny, short* v, int pStride, TS* scratch)
        where TOps : IIntVectors<TS, TI> where TS : unmanaged where TI : unmanaged
    {
        for (int c = 0; c < cin; c += TOps.ShortCount)
        {
            for (int j = 0; j < 6; j++)
            {
                byte* col = d + j * cin + c;
                TS* s = scratch + j;
                if (ny == 4)
                {
                    var d0 = TOps.WidenBytes(col); var d1 = TOps.WidenBytes(col + rowStride); var d2 = TOps.WidenBytes(col + 2 * rowStride); var d3 = TOps.WidenBytes(col + 3 * rowStride);
                    s[0] = TOps.Subtract(d0, d2); s[6] = TOps.Add(d1, d2); s[12] = TOps.Subtract(d2, d1); s[18] = TOps.Subtract(d1, d3);
                }
                else
                    InputTransform6Narrow<TOps, TS, TI>(TOps.WidenBytes(col), TOps.WidenBytes(col + rowStride), TOps.WidenBytes(col + 2 * rowStride),
                        TOps.WidenBytes(col + 3 * rowStride), TOps.WidenBytes(col + 4 * rowStride), TOps.WidenBytes(col + 5 * rowStride),
                        out s[0], out s[6], out s[12], out s[18], out s[24], out s[30]);
            }
            for (int i = 0; i < ny; i++)
            {
                TS* s = scratch + 6 * i;
                InputTransform6Narrow<TOps, TS, TI>(s[0], s[1], s[2], s[3], s[4], s[5], out var e0, out var e1, out var e2, out var e3, out var e4, out var e5);
                short* o = v + 6 * i * pStride + c;
                TOps.Store(e0, o); TOps.Store(e1, o + pStride); TOps.Store(e2, o + 2 * pStride);
                TOps.Store(e3, o + 3 * pStride); TOps.Store(e4, o + 4 * pStride); TOps.Store(e5, o + 5 * pStride);
            }
        }
    }

    /// <summary><see cref="InputTransform6(System.Runtime.Intrinsics.Vector512{short}, System.Runtime.Intrinsics.Vector512{short}, System.Runtime.Intrinsics.Vector512{short}, System.Runtime.Intrinsics.Vector512{short}, System.Runtime.Intrinsics.Vector512{short}, System.Runtime.Intrinsics.Vector512{short}, out System.Runtime.Intrinsics.Vector512{short}, out System.Runtime.Intrinsics.Vector512{short}, out System.Runtime.Intrinsics.Vector512{short}, out System.Runtime.Intrinsics.Vector512{short}, out System.Runtime.Intrinsics.Vector512{short}, out System.Runtime.Intrinsics.Vector512{short})"/>
    /// on the narrower vectors.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void InputTransform6Narrow<TOps, TS, TI>(TS d0, TS d1, TS d2, TS d3, TS d4, TS d5, out TS t0, out TS t1, out TS t2, out TS t3, out TS t4, out TS t5)
        where TOps : IIntVectors<TS, TI> where TS : unmanaged where TI : unmanaged
    {
        var g = TOps.Subtract(d1, d3); var h = TOps.Subtract(d4, d2);
        t0 = TOps.Add(TOps.ShiftLeft(TOps.Subtract(d0, d2), 2), h);
        t1 = TOps.Subtract(TOps.Add(d3, d4), TOps.ShiftLeft(TOps.Add(d1, d2), 2));
        t2 = TOps.Subtract(TOps.Add(TOps.ShiftLeft(TOps.Subtract(d1, d2), 2), d4), d3);
        t3 = TOps.Subtract(h, TOps.ShiftLeft(g, 1));
        t4 = TOps.Add(h, TOps.ShiftLeft(g, 1));
        t5 = TOps.Subtract(TOps.Add(TOps.ShiftLeft(g, 2), d5), d3);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void OutputTransform6Narrow<TOps, TS, TI>(TI m0, TI m1, TI m2, TI m3, TI m4, TI m5, out TI y0, out TI y1, out TI y2, out TI y3)
        where TOps : IIntVectors<TS, TI> where TS : unmanaged where TI : unmanaged
    {
        var a = TOps.Add(m1, m2); var b = TOps.Subtract(m1, m2); var c = TOps.Add(m3, m4); var e = TOps.Subtract(m3, m4);
        y0 = TOps.Add(TOps.Add(m0, a), c);
        y1 = TOps.Add(b, TOps.ShiftLeft(e, 1));
        y2 = TOps.Add(a, TOps.ShiftLeft(c, 2));
        y3 = TOps.Add(TOps.Add(b, TOps.ShiftLeft(e, 3)), m5);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static unsafe void WideOutputTileNarrow<TOps, TS, TI>(int* mp, int pStride, int m, int* acc, int accRow0, int y0, int y1, int tileY, int x, int cols, int width, int cb, int cout,
        TI inverse, int shift, TI* scratch)
        where TOps : IIntVectors<TS, TI> where TS : unmanaged where TI : unmanaged
    {
        int lanes = TOps.ShortCount / 2;
        for (int c = 0; c < 64; c += lanes)
        {
            for (int j = 0; j < 6; j++)
            {
                int* q = mp + j * pStride + c;
                TI* s = scratch + j;
                int rs = 6 * pStride;
                if (m == 2)
                {
                    var e0 = TOps.Load(q); var e1 = TOps.Load(q + rs); var e2 = TOps.Load(q + 2 * rs); var e3 = TOps.Load(q + 3 * rs);
                    s[0] = TOps.Add(TOps.Add(e0, e1), e2); s[6] = TOps.Subtract(TOps.Subtract(e1, e2), e3);
                }
                else
                    OutputTransform6Narrow<TOps, TS, TI>(TOps.Load(q), TOps.Load(q + rs), TOps.Load(q + 2 * rs), TOps.Load(q + 3 * rs), TOps.Load(q + 4 * rs), TOps.Load(q + 5 * rs),
                        out s[0], out s[6], out s[12], out s[18]);
            }
            for (int y = y0; y < y1; y++)
            {
                TI* s = scratch + 6 * (y - tileY);
                OutputTransform6Narrow<TOps, TS, TI>(s[0], s[1], s[2], s[3], s[4], s[5], out var o0, out var o1, out var o2, out var o3);
                int* o = acc + ((long)(y - accRow0) * width + x) * cout + cb + c;
                TOps.Store(TOps.ShiftRightArithmetic(TOps.Multiply(o0, inverse), shift), o);
                if (cols > 1) TOps.Store(TOps.ShiftRightArithmetic(TOps.Multiply(o1, inverse), shift), o + cout);
                if (cols > 2) TOps.Store(TOps.ShiftRightArithmetic(TOps.Multiply(o2, inverse), shift), o + 2 * cout);
                if (cols > 3) TOps.Store(TOps.ShiftRightArithmetic(TOps.Multiply(o3, inverse), shift), o + 3 * cout);
            }
        }
    }
}
