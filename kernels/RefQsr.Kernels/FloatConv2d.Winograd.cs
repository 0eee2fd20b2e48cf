using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace RefQsr.Kernels;

public static partial class FloatConv2d
{
    /// <summary>Output pixels per tile side (F(4x4, 3x3)), input pixels per tile side, and the
    /// 6x6 = 36 positions at which the transformed tiles are multiplied.</summary>
    const int WinoOut = 4, WinoIn = 6, WinoPositions = 36;

    /// <summary>Tiles along a row that one pass transforms and multiplies together: their
    /// transformed inputs (36 x 32 x C floats) and products (36 x 32 x 64) stay in L2, and
    /// each weight slice loaded into L1 serves all 32. With 16 the upsampler's 64→256 conv
    /// re-read its 2.4 MB of transformed weights from L3 twice as often (GEMM 191 against
    /// 137 ms on a 360x640 input here).</summary>
    const int WinogradChunkTiles = 32;

    /// <summary>Winograd F(4x4, 3x3) (Lavin and Gray, 2016) for 3x3 convolutions with many
    /// channels: each 6x6 input tile is transformed (Bᵀ d B), multiplied channel by channel
    /// with the transformed weights (G g Gᵀ, made once by <see cref="FloatConvWeights"/>) as
    /// 36 small GEMMs, and transformed back (Aᵀ m A) to 4x4 outputs: 36 multiplies per
    /// pair of channels and 16 pixels instead of 144, at the cost of additions in the
    /// transforms. The direct kernel is already at this CPU's FMA peak, so fewer multiplies
    /// is the only way left to make these convs faster. Results differ from the direct sum by
    /// float rounding only (the transforms scale by up to 5 and 1/24, so a few more ulps of the
    /// operands' magnitude than the direct sum) and are identical for any thread count: every
    /// tile is computed the same way whichever thread takes it.</summary>
    static unsafe void WinogradConv(ReadOnlySpan<float> input, FloatConvWeights w, float[] output, int height, int width, int threads, SubPixelStore sub, bool vector256 = false, bool vector128 = false)
    {
        int cin = w.InChannels, tilesY = (height + WinoOut - 1) / WinoOut, tilesX = (width + WinoOut - 1) / WinoOut;
        // zero ring of one pixel, plus up to three more rows/columns where the size is not a
        // multiple of 4, so that every 6x6 tile reads inside the buffer
        int ph = WinoOut * tilesY + 2, pw = WinoOut * tilesX + 2;
        float[] padded = Padding.RentTiled(input, height, width, cin, ph, pw);
        try
        {
            RowParallel.For(tilesY, threads, (t0, t1) =>
            {
                fixed (float* pin = padded, pout = output)
                    WinogradTileRows(pin, pw, w, pout, height, width, t0, t1, sub, vector256, vector128);
            });
        }
        finally { ArrayPool<float>.Shared.Return(padded); }
    }

    /// <summary>Tile rows [ty0, ty1) of the conv: <paramref name="pin"/> is the tiled padded
    /// input (<see cref="Padding.RentTiled"/>), <paramref name="pout"/> where output row 0 would
    /// start (the fused upsampler and tail passes a pointer before its staging rows).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static unsafe void WinogradTileRows(float* pin, int pw, FloatConvWeights w, float* pout, int height, int width, int ty0, int ty1, SubPixelStore sub, bool vector256 = false, bool vector128 = false)
    {
        if (vector128 || Vector128Only)
        {
            WinogradTileRowsNarrow<Float128, Vector128<float>>(pin, pw, w, pout, height, width, ty0, ty1, sub);
            return;
        }
        if (vector256 || !Avx512F.IsSupported)
        {
            WinogradTileRowsNarrow<Float256, Vector256<float>>(pin, pw, w, pout, height, width, ty0, ty1, sub);
            return;
        }
        const int T = WinogradChunkTiles, P = WinoPositions;
        int cin = w.InChannels, cout = w.OutChannels, tilesX = (width + WinoOut - 1) / WinoOut;
        // one position's block of V or M is 4 KB; a cache line more between positions keeps
        // the 36 loads of one tile's transform from landing in the same L1 set
        int vStride = T * cin + 16, mStride = T * 64 + 16;
        float[] vBuf = ArrayPool<float>.Shared.Rent(P * vStride);
        float[] mBuf = ArrayPool<float>.Shared.Rent(P * mStride);
        var tmp = stackalloc Vector512<float>[WinoPositions];
        try
        {
            fixed (float* pu = w.Winograd, pv = vBuf, pm = mBuf)
                for (int ty = ty0; ty < ty1; ty++)
                    for (int tx0 = 0; tx0 < tilesX; tx0 += T)
                    {
                        int nt = Math.Min(T, tilesX - tx0), ntUp = (nt + 3) & ~3;
                        for (int t = 0; t < nt; t++)
                            InputTile(pin + (WinoOut * ty * pw + WinoOut * (tx0 + t)) * cin, pw * cin, cin, pv + t * cin, vStride, tmp);
                        for (int t = nt; t < ntUp; t++)   // the GEMM runs four tiles at a time; these are never stored
                            for (int p = 0; p < P; p++) new Span<float>(pv + p * vStride + t * cin, cin).Clear();
                        for (int cb = 0; cb < cout; cb += 64)
                        {
                            for (int p = 0; p < P; p++)
                            {
                                float* u = pu + (p * cout + cb) * cin, v = pv + p * vStride, m = pm + p * mStride;
                                for (int t = 0; t < ntUp; t += 4) Gemm4x64(v + t * cin, u, cin, m + t * 64);
                            }
                            for (int t = 0; t < nt; t++)
                                OutputTile(pm + t * 64, mStride, pout, WinoOut * ty, WinoOut * (tx0 + t), height, width, cb, cout, sub, tmp);
                        }
                    }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(vBuf);
            ArrayPool<float>.Shared.Return(mBuf);
        }
    }

    /// <summary>V = Bᵀ d B of one 6x6 input tile, 16 channels at a time; V[p] goes to
    /// <paramref name="v"/> + p·<paramref name="pStride"/>. Columns first into
    /// <paramref name="tmp"/> (36 vectors do not fit in registers), then rows.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static unsafe void InputTile(float* d, int rowStride, int cin, float* v, int pStride, Vector512<float>* tmp)
    {
        for (int c = 0; c < cin; c += 16)
        {
            for (int j = 0; j < WinoIn; j++)
            {
                float* col = d + j * cin + c;
                InputTransform(Vector512.Load(col), Vector512.Load(col + rowStride), Vector512.Load(col + 2 * rowStride),
                    Vector512.Load(col + 3 * rowStride), Vector512.Load(col + 4 * rowStride), Vector512.Load(col + 5 * rowStride),
                    out tmp[j], out tmp[6 + j], out tmp[12 + j], out tmp[18 + j], out tmp[24 + j], out tmp[30 + j]);
            }
            for (int i = 0; i < WinoIn; i++)
            {
                var r = tmp + 6 * i;
                InputTransform(r[0], r[1], r[2], r[3], r[4], r[5], out var t0, out var t1, out var t2, out var t3, out var t4, out var t5);
                float* o = v + 6 * i * pStride + c;
                t0.Store(o); t1.Store(o + pStride); t2.Store(o + 2 * pStride);
                t3.Store(o + 3 * pStride); t4.Store(o + 4 * pStride); t5.Store(o + 5 * pStride);
            }
        }
    }

    /// <summary>Bᵀ applied to six values: rows (4, 0, -5, 0, 1, 0), (0, -4, -4, 1, 1, 0),
    /// (0, 4, -4, -1, 1, 0), (0, -2, -1, 2, 1, 0), (0, 2, -1, -2, 1, 0), (0, 4, 0, -5, 0, 1).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void InputTransform(Vector512<float> d0, Vector512<float> d1, Vector512<float> d2, Vector512<float> d3, Vector512<float> d4, Vector512<float> d5,
        out Vector512<float> t0, out Vector512<float> t1, out Vector512<float> t2, out Vector512<float> t3, out Vector512<float> t4, out Vector512<float> t5)
    {
        var four = Vector512.Create(4f);
        var a = Avx512F.FusedMultiplyAddNegated(four, d2, d4);   // d4 - 4 d2
        var b = Avx512F.FusedMultiplyAddNegated(four, d1, d3);   // d3 - 4 d1
        var c = d4 - d2;
        var e = (d3 - d1) + (d3 - d1);                           // 2 (d3 - d1)
        var five = Vector512.Create(5f);
        t0 = Avx512F.FusedMultiplyAdd(four, d0, Avx512F.FusedMultiplyAddNegated(five, d2, d4));
        t1 = a + b;
        t2 = a - b;
        t3 = c + e;
        t4 = c - e;
        t5 = Avx512F.FusedMultiplyAdd(four, d1, Avx512F.FusedMultiplyAddNegated(five, d3, d5));
    }

    /// <summary>Aᵀ m A of one tile for 64 output channels, stored as up to 4x4 pixels (the
    /// last row or column of tiles can hang over the image).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static unsafe void OutputTile(float* m, int pStride, float* output, int y, int x, int height, int width, int cb, int cout, SubPixelStore sub, Vector512<float>* tmp)
    {
        int rows = Math.Min(WinoOut, height - y), cols = Math.Min(WinoOut, width - x);
        for (int c = 0; c < 64; c += 16)
        {
            float* q = m + c;
            // Aᵀ along the columns: tmp[6 i + j] for output row i, tile column j
            for (int j = 0; j < WinoIn; j++)
            {
                float* col = q + j * pStride;
                OutputTransform(Vector512.Load(col), Vector512.Load(col + 6 * pStride), Vector512.Load(col + 12 * pStride),
                    Vector512.Load(col + 18 * pStride), Vector512.Load(col + 24 * pStride), Vector512.Load(col + 30 * pStride),
                    out tmp[j], out tmp[6 + j], out tmp[12 + j], out tmp[18 + j]);
            }
            for (int i = 0; i < rows; i++)
            {
                var r = tmp + 6 * i;
                OutputTransform(r[0], r[1], r[2], r[3], r[4], r[5], out var y0, out var y1, out var y2, out var y3);
                float* o = output + sub.Offset(y + i, x, cb + c, width, cout);
                int stride = sub.PixelStride(cout);
                int ch = cb + c;
                sub.StoreOne(o, ch, y0);
                if (cols > 1) sub.StoreOne(o + stride, ch, y1);
                if (cols > 2) sub.StoreOne(o + 2 * stride, ch, y2);
                if (cols > 3) sub.StoreOne(o + 3 * stride, ch, y3);
            }
        }
    }

    /// <summary>Aᵀ applied to six values: rows (1, 1, 1, 1, 1, 0), (0, 1, -1, 2, -2, 0),
    /// (0, 1, 1, 4, 4, 0), (0, 1, -1, 8, -8, 1).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void OutputTransform(Vector512<float> m0, Vector512<float> m1, Vector512<float> m2, Vector512<float> m3, Vector512<float> m4, Vector512<float> m5,
        out Vector512<float> y0, out Vector512<float> y1, out Vector512<float> y2, out Vector512<float> y3)
    {
        var p = m1 + m2; var q = m1 - m2; var r = m3 + m4; var s = m3 - m4;
        y0 = m0 + p + r;
        y1 = Avx512F.FusedMultiplyAdd(Vector512.Create(2f), s, q);
        y2 = Avx512F.FusedMultiplyAdd(Vector512.Create(4f), r, p);
        y3 = Avx512F.FusedMultiplyAdd(Vector512.Create(8f), s, q) + m5;
    }

    /// <summary>Four tiles' products at one of the 36 tile positions for 64 output channels:
    /// m[t][co] = Σ_ci v[t][ci]·u[ci][co]. 16 accumulators; each weight load feeds four FMAs
    /// and each broadcast four, as in the direct kernel.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static unsafe void Gemm4x64(float* v, float* u, int cin, float* m)
    {
        Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
        Vector512<float> b0 = default, b1 = default, b2 = default, b3 = default;
        Vector512<float> c0 = default, c1 = default, c2 = default, c3 = default;
        Vector512<float> d0 = default, d1 = default, d2 = default, d3 = default;
        for (int ci = 0; ci < cin; ci++, u += 64)
        {
            var w0 = Vector512.Load(u); var w1 = Vector512.Load(u + 16);
            var w2 = Vector512.Load(u + 32); var w3 = Vector512.Load(u + 48);
            var va = Vector512.Create(v[ci]);
            a0 = Avx512F.FusedMultiplyAdd(va, w0, a0); a1 = Avx512F.FusedMultiplyAdd(va, w1, a1);
            a2 = Avx512F.FusedMultiplyAdd(va, w2, a2); a3 = Avx512F.FusedMultiplyAdd(va, w3, a3);
            var vb = Vector512.Create(v[cin + ci]);
            b0 = Avx512F.FusedMultiplyAdd(vb, w0, b0); b1 = Avx512F.FusedMultiplyAdd(vb, w1, b1);
            b2 = Avx512F.FusedMultiplyAdd(vb, w2, b2); b3 = Avx512F.FusedMultiplyAdd(vb, w3, b3);
            var vc = Vector512.Create(v[2 * cin + ci]);
            c0 = Avx512F.FusedMultiplyAdd(vc, w0, c0); c1 = Avx512F.FusedMultiplyAdd(vc, w1, c1);
            c2 = Avx512F.FusedMultiplyAdd(vc, w2, c2); c3 = Avx512F.FusedMultiplyAdd(vc, w3, c3);
            var vd = Vector512.Create(v[3 * cin + ci]);
            d0 = Avx512F.FusedMultiplyAdd(vd, w0, d0); d1 = Avx512F.FusedMultiplyAdd(vd, w1, d1);
            d2 = Avx512F.FusedMultiplyAdd(vd, w2, d2); d3 = Avx512F.FusedMultiplyAdd(vd, w3, d3);
        }
        a0.Store(m); a1.Store(m + 16); a2.Store(m + 32); a3.Store(m + 48);
        b0.Store(m + 64); b1.Store(m + 80); b2.Store(m + 96); b3.Store(m + 112);
        c0.Store(m + 128); c1.Store(m + 144); c2.Store(m + 160); c3.Store(m + 176);
        d0.Store(m + 192); d1.Store(m + 208); d2.Store(m + 224); d3.Store(m + 240);
    }

    /// <summary>U = G g Gᵀ for every (in, out) channel pair, laid out
    /// [position 0..35][out / 64][in][out % 64]: <see cref="Gemm4x64"/> reads 64 output
    /// channels with four loads, and one position's 64-channel block is 16 KB in a row. Laid
    /// out [position][in][out] with 256 output channels, its rows were 1 KB apart and fell
    /// into a quarter of L1's sets: the GEMM ran at 3.1 instead of 4.6 G FMAs/s. G's rows:
    /// (1/4, 0, 0), (-1/6, -1/6, -1/6), (-1/6, 1/6, -1/6), (1/24, 1/12, 1/6), (1/24, -1/12, 1/6),
    /// (0, 0, 1). Computed in double and rounded once.</summary>
    internal static float[] WinogradWeights(ReadOnlySpan<float> weightsOihw, int cout, int cin)
    {
        ReadOnlySpan<double> g6 = [1 / 4.0, 0, 0, -1 / 6.0, -1 / 6.0, -1 / 6.0, -1 / 6.0, 1 / 6.0, -1 / 6.0,
                                   1 / 24.0, 1 / 12.0, 1 / 6.0, 1 / 24.0, -1 / 12.0, 1 / 6.0, 0, 0, 1];
        var u = new float[WinoPositions * cin * cout];
        Span<double> gg = stackalloc double[WinoIn * 3];
        for (int co = 0; co < cout; co++)
            for (int ci = 0; ci < cin; ci++)
            {
                var g = weightsOihw.Slice((co * cin + ci) * 9, 9);
                for (int i = 0; i < WinoIn; i++)   // G g: 6x3
                    for (int c = 0; c < 3; c++)
                        gg[3 * i + c] = g6[3 * i] * g[c] + g6[3 * i + 1] * g[3 + c] + g6[3 * i + 2] * g[6 + c];
                for (int i = 0; i < WinoIn; i++)   // (G g) Gᵀ: 6x6
                    for (int j = 0; j < WinoIn; j++)
                        u[(((WinoIn * i + j) * (cout / 64) + co / 64) * cin + ci) * 64 + co % 64] =
                            (float)(gg[3 * i] * g6[3 * j] + gg[3 * i + 1] * g6[3 * j + 1] + gg[3 * i + 2] * g6[3 * j + 2]);
            }
        return u;
    }

    /// <summary>The Winograd conv in Vector256 registers even where AVX-512 is (tests: the two
    /// paths give the same bits).</summary>
    internal static void RunWinogradVector256(ReadOnlySpan<float> input, FloatConvWeights w, float[] output, int height, int width, int threads)
    {
        if (w.Winograd is null || !Vector256Fma)
            throw new NotSupportedException("no Winograd weights, or no AVX2 and FMA");
        WinogradConv(input, w, output, height, width, threads, default, vector256: true);
    }

    /// <summary>The Winograd conv in Vector128 registers on any CPU (tests: the same bits as
    /// the wider paths).</summary>
    internal static void RunWinogradVector128(ReadOnlySpan<float> input, FloatConvWeights w, float[] output, int height, int width, int threads)
    {
        if (w.Winograd is null) throw new NotSupportedException("no Winograd weights");
        WinogradConv(input, w, output, height, width, threads, default, vector128: true);
    }

    /// <summary>Whether <see cref="Run"/> takes the Winograd path for these weights: AVX-512,
    /// AVX2 with FMA, or hardware Vector128 (the portable path).</summary>
    internal static bool WinogradSupported(int kernel, int cin, int cout)
        => (Avx512F.IsSupported || Vector256Fma || Vector128.IsHardwareAccelerated) && kernel == 3 && cin % 16 == 0 && cout % 64 == 0;
}
