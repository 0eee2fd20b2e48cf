using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using X86Fma = System.Runtime.Intrinsics.X86.Fma;

namespace RefQsr.Kernels;

public static partial class FloatConv2d
{
    /// <summary><see cref="WinogradTileRows"/> in Vector256 registers, for CPUs with AVX2 and FMA
    /// and no AVX-512: the same transforms with the same fused and single operations in the same
    /// order, and the same per-output FMA chain over the input channels in the GEMM, so the same
    /// bits as the Vector512 path. 8 channels per vector; the GEMM takes 4 tiles x 16 channels at
    /// a time (8 accumulators of AVX2's 16 registers).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static unsafe void WinogradTileRows256(float* pin, int pw, FloatConvWeights w, float* pout, int height, int width, int ty0, int ty1, SubPixelStore sub)
    {
        const int T = WinogradChunkTiles, P = WinoPositions;
        int cin = w.InChannels, cout = w.OutChannels, tilesX = (width + WinoOut - 1) / WinoOut;
        int vStride = T * cin + 16, mStride = T * 64 + 16;
        float[] vBuf = ArrayPool<float>.Shared.Rent(P * vStride);
        float[] mBuf = ArrayPool<float>.Shared.Rent(P * mStride);
        var tmp = stackalloc Vector256<float>[WinoPositions];
        try
        {
            fixed (float* pu = w.Winograd, pv = vBuf, pm = mBuf)
                for (int ty = ty0; ty < ty1; ty++)
                    for (int tx0 = 0; tx0 < tilesX; tx0 += T)
                    {
                        int nt = Math.Min(T, tilesX - tx0), ntUp = (nt + 3) & ~3;
                        for (int t = 0; t < nt; t++)
                            InputTile256(pin + (WinoOut * ty * pw + WinoOut * (tx0 + t)) * cin, pw * cin, cin, pv + t * cin, vStride, tmp);
                        for (int t = nt; t < ntUp; t++)
                            for (int p = 0; p < P; p++) new Span<float>(pv + p * vStride + t * cin, cin).Clear();
                        for (int cb = 0; cb < cout; cb += 64)
                        {
                            for (int p = 0; p < P; p++)
                            {
                                float* u = pu + (p * cout + cb) * cin, v = pv + p * vStride, m = pm + p * mStride;
                                for (int t = 0; t < ntUp; t += 4)
                                    for (int c = 0; c < 64; c += 16) Gemm4x16(v + t * cin, u + c, cin, m + t * 64 + c);
                            }
                            for (int t = 0; t < nt; t++)
                                OutputTile256(pm + t * 64, mStride, pout, WinoOut * ty, WinoOut * (tx0 + t), height, width, cb, cout, sub, tmp);
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
    static unsafe void InputTile256(float* d, int rowStride, int cin, float* v, int pStride, Vector256<float>* tmp)
    {
        for (int c = 0; c < cin; c += 8)
        {
            for (int j = 0; j < WinoIn; j++)
            {
                float* col = d + j * cin + c;
                InputTransform256(Vector256.Load(col), Vector256.Load(col + rowStride), Vector256.Load(col + 2 * rowStride),
                    Vector256.Load(col + 3 * rowStride), Vector256.Load(col + 4 * rowStride), Vector256.Load(col + 5 * rowStride),
                    out tmp[j], out tmp[6 + j], out tmp[12 + j], out tmp[18 + j], out tmp[24 + j], out tmp[30 + j]);
            }
            for (int i = 0; i < WinoIn; i++)
            {
                var r = tmp + 6 * i;
                InputTransform256(r[0], r[1], r[2], r[3], r[4], r[5], out var t0, out var t1, out var t2, out var t3, out var t4, out var t5);
                float* o = v + 6 * i * pStride + c;
                t0.Store(o); t1.Store(o + pStride); t2.Store(o + 2 * pStride);
                t3.Store(o + 3 * pStride); t4.Store(o + 4 * pStride); t5.Store(o + 5 * pStride);
            }
        }
    }

    /// <summary><see cref="InputTransform"/> on Vector256: FMA3's vfnmadd (−a·b + c) and vfmadd.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void InputTransform256(Vector256<float> d0, Vector256<float> d1, Vector256<float> d2, Vector256<float> d3, Vector256<float> d4, Vector256<float> d5,
        out Vector256<float> t0, out Vector256<float> t1, out Vector256<float> t2, out Vector256<float> t3, out Vector256<float> t4, out Vector256<float> t5)
    {
        var four = Vector256.Create(4f);
        var a = X86Fma.MultiplyAddNegated(four, d2, d4);   // d4 - 4 d2
        var b = X86Fma.MultiplyAddNegated(four, d1, d3);   // d3 - 4 d1
        var c = d4 - d2;
        var e = (d3 - d1) + (d3 - d1);
        var five = Vector256.Create(5f);
        t0 = X86Fma.MultiplyAdd(four, d0, X86Fma.MultiplyAddNegated(five, d2, d4));
        t1 = a + b;
        t2 = a - b;
        t3 = c + e;
        t4 = c - e;
        t5 = X86Fma.MultiplyAdd(four, d1, X86Fma.MultiplyAddNegated(five, d3, d5));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static unsafe void OutputTile256(float* m, int pStride, float* output, int y, int x, int height, int width, int cb, int cout, SubPixelStore sub, Vector256<float>* tmp)
    {
        int rows = Math.Min(WinoOut, height - y), cols = Math.Min(WinoOut, width - x);
        for (int c = 0; c < 64; c += 8)
        {
            float* q = m + c;
            for (int j = 0; j < WinoIn; j++)
            {
                float* col = q + j * pStride;
                OutputTransform256(Vector256.Load(col), Vector256.Load(col + 6 * pStride), Vector256.Load(col + 12 * pStride),
                    Vector256.Load(col + 18 * pStride), Vector256.Load(col + 24 * pStride), Vector256.Load(col + 30 * pStride),
                    out tmp[j], out tmp[6 + j], out tmp[12 + j], out tmp[18 + j]);
            }
            for (int i = 0; i < rows; i++)
            {
                var r = tmp + 6 * i;
                OutputTransform256(r[0], r[1], r[2], r[3], r[4], r[5], out var y0, out var y1, out var y2, out var y3);
                float* o = output + sub.Offset(y + i, x, cb + c, width, cout);
                int stride = sub.PixelStride(cout);
                int ch = cb + c;
                sub.StoreOne256(o, ch, y0);
                if (cols > 1) sub.StoreOne256(o + stride, ch, y1);
                if (cols > 2) sub.StoreOne256(o + 2 * stride, ch, y2);
                if (cols > 3) sub.StoreOne256(o + 3 * stride, ch, y3);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void OutputTransform256(Vector256<float> m0, Vector256<float> m1, Vector256<float> m2, Vector256<float> m3, Vector256<float> m4, Vector256<float> m5,
        out Vector256<float> y0, out Vector256<float> y1, out Vector256<float> y2, out Vector256<float> y3)
    {
        var p = m1 + m2; var q = m1 - m2; var r = m3 + m4; var s = m3 - m4;
        y0 = m0 + p + r;
        y1 = X86Fma.MultiplyAdd(Vector256.Create(2f), s, q);
        y2 = X86Fma.MultiplyAdd(Vector256.Create(4f), r, p);
        y3 = X86Fma.MultiplyAdd(Vector256.Create(8f), s, q) + m5;
    }

    /// <summary>Four tiles' products at one tile position for 16 output channels (of a
    /// 64-channel block whose rows are 64 floats apart): m[t][co] = Σ_ci v[t][ci]·u[ci][co],
    /// one FMA per input channel in order, as <see cref="Gemm4x64"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static unsafe void Gemm4x16(float* v, float* u, int cin, float* m)
    {
        Vector256<float> a0 = default, a1 = default, b0 = default, b1 = default;
        Vector256<float> c0 = default, c1 = default, d0 = default, d1 = default;
        for (int ci = 0; ci < cin; ci++, u += 64)
        {
            var w0 = Vector256.Load(u); var w1 = Vector256.Load(u + 8);
            var va = Vector256.Create(v[ci]);
            a0 = X86Fma.MultiplyAdd(va, w0, a0); a1 = X86Fma.MultiplyAdd(va, w1, a1);
            var vb = Vector256.Create(v[cin + ci]);
            b0 = X86Fma.MultiplyAdd(vb, w0, b0); b1 = X86Fma.MultiplyAdd(vb, w1, b1);
            var vc = Vector256.Create(v[2 * cin + ci]);
            c0 = X86Fma.MultiplyAdd(vc, w0, c0); c1 = X86Fma.MultiplyAdd(vc, w1, c1);
            var vd = Vector256.Create(v[3 * cin + ci]);
            d0 = X86Fma.MultiplyAdd(vd, w0, d0); d1 = X86Fma.MultiplyAdd(vd, w1, d1);
        }
        a0.Store(m); a1.Store(m + 8);
        b0.Store(m + 64); b1.Store(m + 72);
        c0.Store(m + 128); c1.Store(m + 136);
        d0.Store(m + 192); d1.Store(m + 200);
    }
}
