using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace RefQsr.Kernels;

public static partial class FloatConv2d
{
    /// <summary><see cref="WinogradTileRows"/> in registers narrower than AVX-512's, written once
    /// for both (<see cref="IFloatVector{TV}"/>): <see cref="Float256"/> on CPUs with AVX2 and FMA,
    /// <see cref="Float128"/> elsewhere (ARM64's NEON has FMA; an older x64 computes the fused
    /// multiply-adds in software, slowly but exactly). The same transforms with the same fused
    /// and single operations in the same order, and the same per-output FMA chain over the
    /// input channels in the GEMM, so the same bits as the Vector512 path. The GEMM takes 4
    /// tiles x two vectors of channels at a time (8 sums).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static unsafe void WinogradTileRowsNarrow<TOps, TV>(float* pin, int pw, FloatConvWeights w, float* pout, int height, int width, int ty0, int ty1, SubPixelStore sub)
        where TOps : IFloatVector<TV> where TV : unmanaged
    {
        const int T = WinogradChunkTiles, P = WinoPositions;
        int cin = w.InChannels, cout = w.OutChannels, tilesX = (width + WinoOut - 1) / WinoOut;
        int vStride = T * cin + 16, mStride = T * 64 + 16;
        float[] vBuf = ArrayPool<float>.Shared.Rent(P * vStride);
        float[] mBuf = ArrayPool<float>.Shared.Rent(P * mStride);
        var tmp = stackalloc TV[WinoPositions];
        try
        {
            fixed (float* pu = w.Winograd, pv = vBuf, pm = mBuf)
                for (int ty = ty0; ty < ty1; ty++)
                    for (int tx0 = 0; tx0 < tilesX; tx0 += T)
                    {
                        int nt = Math.Min(T, tilesX - tx0), ntUp = (nt + 3) & ~3;
                        for (int t = 0; t < nt; t++)
                            InputTileNarrow<TOps, TV>(pin + (WinoOut * ty * pw + WinoOut * (tx0 + t)) * cin, pw * cin, cin, pv + t * cin, vStride, tmp);
                        for (int t = nt; t < ntUp; t++)
                            for (int p = 0; p < P; p++) new Span<float>(pv + p * vStride + t * cin, cin).Clear();
                        for (int cb = 0; cb < cout; cb += 64)
                        {
                            for (int p = 0; p < P; p++)
                            {
                                float* u = pu + (p * cout + cb) * cin, v = pv + p * vStride, m = pm + p * mStride;
                                for (int t = 0; t < ntUp; t += 4)
                                    for (int c = 0; c < 64; c += 2 * TOps.Count) Gemm4xTwoVectors<TOps, TV>(v + t * cin, u + c, cin, m + t * 64 + c);
                            }
                            for (int t = 0; t < nt; t++)
                                OutputTileNarrow<TOps, TV>(pm + t * 64, mStride, pout, WinoOut * ty, WinoOut * (tx0 + t), height, width, cb, cout, sub, tmp);
                        }
                    }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(vBuf);
            ArrayPool<float>.Shared.Return(mBuf);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static unsafe void InputTileNarrow<TOps, TV>(float* d, int rowStride, int cin, float* v, int pStride, TV* tmp)
        where TOps : IFloatVector<TV> where TV : unmanaged
    {
        for (int c = 0; c < cin; c += TOps.Count)
        {
            for (int j = 0; j < WinoIn; j++)
            {
                float* col = d + j * cin + c;
                InputTransformNarrow<TOps, TV>(TOps.Load(col), TOps.Load(col + rowStride), TOps.Load(col + 2 * rowStride),
                    TOps.Load(col + 3 * rowStride), TOps.Load(col + 4 * rowStride), TOps.Load(col + 5 * rowStride),
                    out tmp[j], out tmp[6 + j], out tmp[12 + j], out tmp[18 + j], out tmp[24 + j], out tmp[30 + j]);
            }
            for (int i = 0; i < WinoIn; i++)
            {
                var r = tmp + 6 * i;
                InputTransformNarrow<TOps, TV>(r[0], r[1], r[2], r[3], r[4], r[5], out var t0, out var t1, out var t2, out var t3, out var t4, out var t5);
                float* o = v + 6 * i * pStride + c;
                TOps.Store(t0, o); TOps.Store(t1, o + pStride); TOps.Store(t2, o + 2 * pStride);
                TOps.Store(t3, o + 3 * pStride); TOps.Store(t4, o + 4 * pStride); TOps.Store(t5, o + 5 * pStride);
            }
        }
    }

    /// <summary><see cref="InputTransform"/>: its vfnmadd (−a·b + c) is Fma(−a, b, c), the same
    /// value (the negation is exact).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void InputTransformNarrow<TOps, TV>(TV d0, TV d1, TV d2, TV d3, TV d4, TV d5,
        out TV t0, out TV t1, out TV t2, out TV t3, out TV t4, out TV t5)
        where TOps : IFloatVector<TV> where TV : unmanaged
    {
        TV four = TOps.Broadcast(4f), minusFour = TOps.Broadcast(-4f), minusFive = TOps.Broadcast(-5f);
        var a = TOps.Fma(minusFour, d2, d4);   // d4 - 4 d2
        var b = TOps.Fma(minusFour, d1, d3);   // d3 - 4 d1
        var c = TOps.Subtract(d4, d2);
        var e = TOps.Add(TOps.Subtract(d3, d1), TOps.Subtract(d3, d1));
        t0 = TOps.Fma(four, d0, TOps.Fma(minusFive, d2, d4));
        t1 = TOps.Add(a, b);
        t2 = TOps.Subtract(a, b);
        t3 = TOps.Add(c, e);
        t4 = TOps.Subtract(c, e);
        t5 = TOps.Fma(four, d1, TOps.Fma(minusFive, d3, d5));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static unsafe void OutputTileNarrow<TOps, TV>(float* m, int pStride, float* output, int y, int x, int height, int width, int cb, int cout, SubPixelStore sub, TV* tmp)
        where TOps : IFloatVector<TV> where TV : unmanaged
    {
        int rows = Math.Min(WinoOut, height - y), cols = Math.Min(WinoOut, width - x);
        for (int c = 0; c < 64; c += TOps.Count)
        {
            float* q = m + c;
            for (int j = 0; j < WinoIn; j++)
            {
                float* col = q + j * pStride;
                OutputTransformNarrow<TOps, TV>(TOps.Load(col), TOps.Load(col + 6 * pStride), TOps.Load(col + 12 * pStride),
                    TOps.Load(col + 18 * pStride), TOps.Load(col + 24 * pStride), TOps.Load(col + 30 * pStride),
                    out tmp[j], out tmp[6 + j], out tmp[12 + j], out tmp[18 + j]);
            }
            for (int i = 0; i < rows; i++)
            {
                var r = tmp + 6 * i;
                OutputTransformNarrow<TOps, TV>(r[0], r[1], r[2], r[3], r[4], r[5], out var y0, out var y1, out var y2, out var y3);
                float* o = output + sub.Offset(y + i, x, cb + c, width, cout);
                int stride = sub.PixelStride(cout);
                int ch = cb + c;
                sub.StoreOneNarrow<TOps, TV>(o, ch, y0);
                if (cols > 1) sub.StoreOneNarrow<TOps, TV>(o + stride, ch, y1);
                if (cols > 2) sub.StoreOneNarrow<TOps, TV>(o + 2 * stride, ch, y2);
                if (cols > 3) sub.StoreOneNarrow<TOps, TV>(o + 3 * stride, ch, y3);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void OutputTransformNarrow<TOps, TV>(TV m0, TV m1, TV m2, TV m3, TV m4, TV m5, out TV y0, out TV y1, out TV y2, out TV y3)
        where TOps : IFloatVector<TV> where TV : unmanaged
    {
        var p = TOps.Add(m1, m2); var q = TOps.Subtract(m1, m2); var r = TOps.Add(m3, m4); var s = TOps.Subtract(m3, m4);
        y0 = TOps.Add(TOps.Add(m0, p), r);
        y1 = TOps.Fma(TOps.Broadcast(2f), s, q);
        y2 = TOps.Fma(TOps.Broadcast(4f), r, p);
        y3 = TOps.Add(TOps.Fma(TOps.Broadcast(8f), s, q), m5);
    }

    /// <summary>Four tiles' products at one tile position for two vectors of output channels
    /// (rows 64 floats apart): m[t][co] = Σ_ci v[t][ci]·u[ci][co], one FMA per input channel in
    /// order, as <see cref="Gemm4x64"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static unsafe void Gemm4xTwoVectors<TOps, TV>(float* v, float* u, int cin, float* m)
        where TOps : IFloatVector<TV> where TV : unmanaged
    {
        TV a0 = default, a1 = default, b0 = default, b1 = default;
        TV c0 = default, c1 = default, d0 = default, d1 = default;
        int n = TOps.Count;
        for (int ci = 0; ci < cin; ci++, u += 64)
        {
            var w0 = TOps.Load(u); var w1 = TOps.Load(u + n);
            var va = TOps.Broadcast(v[ci]);
            a0 = TOps.Fma(va, w0, a0); a1 = TOps.Fma(va, w1, a1);
            var vb = TOps.Broadcast(v[cin + ci]);
            b0 = TOps.Fma(vb, w0, b0); b1 = TOps.Fma(vb, w1, b1);
            var vc = TOps.Broadcast(v[2 * cin + ci]);
            c0 = TOps.Fma(vc, w0, c0); c1 = TOps.Fma(vc, w1, c1);
            var vd = TOps.Broadcast(v[3 * cin + ci]);
            d0 = TOps.Fma(vd, w0, d0); d1 = TOps.Fma(vd, w1, d1);
        }
        TOps.Store(a0, m); TOps.Store(a1, m + n);
        TOps.Store(b0, m + 64); TOps.Store(b1, m + 64 + n);
        TOps.Store(c0, m + 128); TOps.Store(c1, m + 128 + n);
        TOps.Store(d0, m + 192); TOps.Store(d1, m + 192 + n);
    }
}
