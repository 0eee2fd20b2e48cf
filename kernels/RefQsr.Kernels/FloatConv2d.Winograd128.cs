using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace RefQsr.Kernels;

public static partial class FloatConv2d
{
    /// <summary><see cref="WinogradTileRows256"/> with the cross-platform Vector128 API only,
    /// for CPUs without AVX2 and FMA (ARM64's NEON has FMA; older x64 computes the fused
    /// multiply-adds in software, slowly but exactly): the same transforms with the same fused
    /// and single operations in the same order, and the same per-output FMA chain over the input
    /// channels, so the same bits as the Vector256 and Vector512 paths. 4 channels per vector;
    /// the GEMM takes 4 tiles x 8 channels at a time.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static unsafe void WinogradTileRows128(float* pin, int pw, FloatConvWeights w, float* pout, int height, int width, int ty0, int ty1, SubPixelStore sub)
    {
        const int T = WinogradChunkTiles, P = WinoPositions;
        int cin = w.InChannels, cout = w.OutChannels, tilesX = (width + WinoOut - 1) / WinoOut;
        int vStride = T * cin + 16, mStride = T * 64 + 16;
        float[] vBuf = ArrayPool<float>.Shared.Rent(P * vStride);
        float[] mBuf = ArrayPool<float>.Shared.Rent(P * mStride);
        var tmp = stackalloc Vector128<float>[WinoPositions];
        try
        {
            fixed (float* pu = w.Winograd, pv = vBuf, pm = mBuf)
                for (int ty = ty0; ty < ty1; ty++)
                    for (int tx0 = 0; tx0 < tilesX; tx0 += T)
                    {
                        int nt = Math.Min(T, tilesX - tx0), ntUp = (nt + 3) & ~3;
                        for (int t = 0; t < nt; t++)
                            InputTile128(pin + (WinoOut * ty * pw + WinoOut * (tx0 + t)) * cin, pw * cin, cin, pv + t * cin, vStride, tmp);
                        for (int t = nt; t < ntUp; t++)
                            for (int p = 0; p < P; p++) new Span<float>(pv + p * vStride + t * cin, cin).Clear();
                        for (int cb = 0; cb < cout; cb += 64)
                        {
                            for (int p = 0; p < P; p++)
                            {
                                float* u = pu + (p * cout + cb) * cin, v = pv + p * vStride, m = pm + p * mStride;
                                for (int t = 0; t < ntUp; t += 4)
                                    for (int c = 0; c < 64; c += 8) Gemm4x8(v + t * cin, u + c, cin, m + t * 64 + c);
                            }
                            for (int t = 0; t < nt; t++)
                                OutputTile128(pm + t * 64, mStride, pout, WinoOut * ty, WinoOut * (tx0 + t), height, width, cb, cout, sub, tmp);
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
    static unsafe void InputTile128(float* d, int rowStride, int cin, float* v, int pStride, Vector128<float>* tmp)
    {
        for (int c = 0; c < cin; c += 4)
        {
            for (int j = 0; j < WinoIn; j++)
            {
                float* col = d + j * cin + c;
                InputTransform128(Vector128.Load(col), Vector128.Load(col + rowStride), Vector128.Load(col + 2 * rowStride),
                    Vector128.Load(col + 3 * rowStride), Vector128.Load(col + 4 * rowStride), Vector128.Load(col + 5 * rowStride),
                    out tmp[j], out tmp[6 + j], out tmp[12 + j], out tmp[18 + j], out tmp[24 + j], out tmp[30 + j]);
            }
            for (int i = 0; i < WinoIn; i++)
            {
                var r = tmp + 6 * i;
                InputTransform128(r[0], r[1], r[2], r[3], r[4], r[5], out var t0, out var t1, out var t2, out var t3, out var t4, out var t5);
                float* o = v + 6 * i * pStride + c;
                t0.Store(o); t1.Store(o + pStride); t2.Store(o + 2 * pStride);
                t3.Store(o + 3 * pStride); t4.Store(o + 4 * pStride); t5.Store(o + 5 * pStride);
            }
        }
    }

    /// <summary><see cref="InputTransform256"/> on Vector128: vfnmadd's −a·b + c is
    /// FusedMultiplyAdd(−a, b, c), the same value (the negation is exact).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void InputTransform128(Vector128<float> d0, Vector128<float> d1, Vector128<float> d2, Vector128<float> d3, Vector128<float> d4, Vector128<float> d5,
        out Vector128<float> t0, out Vector128<float> t1, out Vector128<float> t2, out Vector128<float> t3, out Vector128<float> t4, out Vector128<float> t5)
    {
        var four = Vector128.Create(4f);
        var minusFour = Vector128.Create(-4f);
        var a = Vector128.FusedMultiplyAdd(minusFour, d2, d4);   // d4 - 4 d2
        var b = Vector128.FusedMultiplyAdd(minusFour, d1, d3);   // d3 - 4 d1
        var c = d4 - d2;
        var e = (d3 - d1) + (d3 - d1);
        var minusFive = Vector128.Create(-5f);
        t0 = Vector128.FusedMultiplyAdd(four, d0, Vector128.FusedMultiplyAdd(minusFive, d2, d4));
        t1 = a + b;
        t2 = a - b;
        t3 = c + e;
        t4 = c - e;
        t5 = Vector128.FusedMultiplyAdd(four, d1, Vector128.FusedMultiplyAdd(minusFive, d3, d5));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static unsafe void OutputTile128(float* m, int pStride, float* output, int y, int x, int height, int width, int cb, int cout, SubPixelStore sub, Vector128<float>* tmp)
    {
        int rows = Math.Min(WinoOut, height - y), cols = Math.Min(WinoOut, width - x);
        for (int c = 0; c < 64; c += 4)
        {
            float* q = m + c;
            for (int j = 0; j < WinoIn; j++)
            {
                float* col = q + j * pStride;
                OutputTransform128(Vector128.Load(col), Vector128.Load(col + 6 * pStride), Vector128.Load(col + 12 * pStride),
                    Vector128.Load(col + 18 * pStride), Vector128.Load(col + 24 * pStride), Vector128.Load(col + 30 * pStride),
                    out tmp[j], out tmp[6 + j], out tmp[12 + j], out tmp[18 + j]);
            }
            for (int i = 0; i < rows; i++)
            {
                var r = tmp + 6 * i;
                OutputTransform128(r[0], r[1], r[2], r[3], r[4], r[5], out var y0, out var y1, out var y2, out var y3);
                float* o = output + sub.Offset(y + i, x, cb + c, width, cout);
                int stride = sub.PixelStride(cout);
                int ch = cb + c;
                sub.StoreOne128(o, ch, y0);
                if (cols > 1) sub.StoreOne128(o + stride, ch, y1);
                if (cols > 2) sub.StoreOne128(o + 2 * stride, ch, y2);
                if (cols > 3) sub.StoreOne128(o + 3 * stride, ch, y3);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void OutputTransform128(Vector128<float> m0, Vector128<float> m1, Vector128<float> m2, Vector128<float> m3, Vector128<float> m4, Vector128<float> m5,
        out Vector128<float> y0, out Vector128<float> y1, out Vector128<float> y2, out Vector128<float> y3)
    {
        var p = m1 + m2; var q = m1 - m2; var r = m3 + m4; var s = m3 - m4;
        y0 = m0 + p + r;
        y1 = Vector128.FusedMultiplyAdd(Vector128.Create(2f), s, q);
        y2 = Vector128.FusedMultiplyAdd(Vector128.Create(4f), r, p);
        y3 = Vector128.FusedMultiplyAdd(Vector128.Create(8f), s, q) + m5;
    }

    /// <summary>Four tiles' products at one tile position for 8 output channels (rows 64
    /// floats apart): m[t][co] = Σ_ci v[t][ci]·u[ci][co], one FMA per input channel in order,
    /// as <see cref="Gemm4x16"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static unsafe void Gemm4x8(float* v, float* u, int cin, float* m)
    {
        Vector128<float> a0 = default, a1 = default, b0 = default, b1 = default;
        Vector128<float> c0 = default, c1 = default, d0 = default, d1 = default;
        for (int ci = 0; ci < cin; ci++, u += 64)
        {
            var w0 = Vector128.Load(u); var w1 = Vector128.Load(u + 4);
            var va = Vector128.Create(v[ci]);
            a0 = Vector128.FusedMultiplyAdd(va, w0, a0); a1 = Vector128.FusedMultiplyAdd(va, w1, a1);
            var vb = Vector128.Create(v[cin + ci]);
            b0 = Vector128.FusedMultiplyAdd(vb, w0, b0); b1 = Vector128.FusedMultiplyAdd(vb, w1, b1);
            var vc = Vector128.Create(v[2 * cin + ci]);
            c0 = Vector128.FusedMultiplyAdd(vc, w0, c0); c1 = Vector128.FusedMultiplyAdd(vc, w1, c1);
            var vd = Vector128.Create(v[3 * cin + ci]);
            d0 = Vector128.FusedMultiplyAdd(vd, w0, d0); d1 = Vector128.FusedMultiplyAdd(vd, w1, d1);
        }
        a0.Store(m); a1.Store(m + 4);
        b0.Store(m + 64); b1.Store(m + 68);
        c0.Store(m + 128); c1.Store(m + 132);
        d0.Store(m + 192); d1.Store(m + 196);
    }
}
