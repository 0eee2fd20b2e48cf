using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace RefQsr.Kernels;

public static partial class FloatConv2d
{
    /// <summary>Tiles (2x2 output pixels each) along a row that one pass transforms and
    /// multiplies together: their transformed inputs (16 x 32 x C floats) and products
    /// (16 x 32 x 64) stay in L2, and each 64-channel weight slice loaded into L1 serves 32 tiles.</summary>
    const int WinogradChunkTiles = 32;

    /// <summary>Winograd F(2x2, 3x3) (Lavin and Gray, 2016) for 3x3 convolutions with many
    /// channels: each 4x4 input tile is transformed (Bᵀ d B), multiplied channel by channel
    /// with the transformed weights (G g Gᵀ, made once by <see cref="FloatConvWeights"/>) as
    /// 16 small GEMMs, and transformed back (Aᵀ m A) to 2x2 outputs: 16 multiplies per
    /// output pair of channels and 4 pixels instead of 36, at the cost of a few additions.
    /// The direct kernel is already at this CPU's FMA peak, so fewer multiplies is the only
    /// way left to make these convs faster. Results differ from the direct sum by float
    /// rounding only (a few ulps of the operands' magnitude) and are identical for any
    /// thread count: every tile is computed the same way whichever thread takes it.</summary>
    static void WinogradConv(ReadOnlySpan<float> input, FloatConvWeights w, float[] output, int height, int width, int threads, SubPixelStore sub)
    {
        int cin = w.InChannels, tilesY = (height + 1) / 2, tilesX = (width + 1) / 2;
        // zero ring of one pixel, plus one more row/column when the size is odd, so that
        // every 4x4 tile reads inside the buffer
        int ph = 2 * tilesY + 2, pw = 2 * tilesX + 2;
        float[] padded = ArrayPool<float>.Shared.Rent(checked(ph * pw * cin));
        try
        {
            var span = padded.AsSpan(0, ph * pw * cin);
            span[..((pw + 1) * cin)].Clear();
            for (int y = 0; y < height; y++)
            {
                input.Slice(y * width * cin, width * cin).CopyTo(span.Slice(((y + 1) * pw + 1) * cin));
                int after = ((y + 1) * pw + 1 + width) * cin;
                span.Slice(after, ((y + 2) * pw + 1) * cin - after).Clear();   // right ring, next row's left pixel
            }
            span[(((height + 1) * pw + 1) * cin)..].Clear();
            RowParallel.For(tilesY, threads, (t0, t1) => WinogradTileRows(padded, pw, w, output, height, width, t0, t1, sub));
        }
        finally { ArrayPool<float>.Shared.Return(padded); }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static unsafe void WinogradTileRows(float[] padded, int pw, FloatConvWeights w, float[] output, int height, int width, int ty0, int ty1, SubPixelStore sub)
    {
        const int T = WinogradChunkTiles;
        int cin = w.InChannels, cout = w.OutChannels, tilesX = (width + 1) / 2;
        float[] vBuf = ArrayPool<float>.Shared.Rent(16 * T * cin);
        float[] mBuf = ArrayPool<float>.Shared.Rent(16 * T * 64);
        try
        {
            fixed (float* pin = padded, pu = w.Winograd, pv = vBuf, pm = mBuf, pout = output)
                for (int ty = ty0; ty < ty1; ty++)
                    for (int tx0 = 0; tx0 < tilesX; tx0 += T)
                    {
                        int nt = Math.Min(T, tilesX - tx0), ntUp = (nt + 3) & ~3;
                        for (int t = 0; t < nt; t++)
                            InputTile(pin + ((2 * ty) * pw + 2 * (tx0 + t)) * cin, pw * cin, cin, pv + t * cin, T * cin);
                        for (int t = nt; t < ntUp; t++)   // the GEMM runs four tiles at a time; these are never stored
                            for (int p = 0; p < 16; p++) new Span<float>(pv + (p * T + t) * cin, cin).Clear();
                        for (int cb = 0; cb < cout; cb += 64)
                        {
                            for (int p = 0; p < 16; p++)
                            {
                                float* u = pu + p * cin * cout + cb, v = pv + p * T * cin, m = pm + p * T * 64;
                                for (int t = 0; t < ntUp; t += 4) Gemm4x64(v + t * cin, u, cin, cout, m + t * 64);
                            }
                            for (int t = 0; t < nt; t++)
                                OutputTile(pm + t * 64, T * 64, pout, 2 * ty, 2 * (tx0 + t), height, width, cb, cout, sub);
                        }
                    }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(vBuf);
            ArrayPool<float>.Shared.Return(mBuf);
        }
    }

    /// <summary>V = Bᵀ d B of one 4x4 input tile, 16 channels at a time; V[p] goes to
    /// <paramref name="v"/> + p·<paramref name="pStride"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static unsafe void InputTile(float* d, int rowStride, int cin, float* v, int pStride)
    {
        for (int c = 0; c < cin; c += 16)
        {
            float* r0 = d + c, r1 = r0 + rowStride, r2 = r1 + rowStride, r3 = r2 + rowStride;
            var d00 = Vector512.Load(r0); var d01 = Vector512.Load(r0 + cin); var d02 = Vector512.Load(r0 + 2 * cin); var d03 = Vector512.Load(r0 + 3 * cin);
            var d10 = Vector512.Load(r1); var d11 = Vector512.Load(r1 + cin); var d12 = Vector512.Load(r1 + 2 * cin); var d13 = Vector512.Load(r1 + 3 * cin);
            var d20 = Vector512.Load(r2); var d21 = Vector512.Load(r2 + cin); var d22 = Vector512.Load(r2 + 2 * cin); var d23 = Vector512.Load(r2 + 3 * cin);
            var d30 = Vector512.Load(r3); var d31 = Vector512.Load(r3 + cin); var d32 = Vector512.Load(r3 + 2 * cin); var d33 = Vector512.Load(r3 + 3 * cin);
            // Bᵀ d combines rows (0-2, 1+2, 2-1, 1-3); InputRow applies the same to the columns
            float* o = v + c;
            InputRow(o, pStride, d00 - d20, d01 - d21, d02 - d22, d03 - d23);
            InputRow(o + 4 * pStride, pStride, d10 + d20, d11 + d21, d12 + d22, d13 + d23);
            InputRow(o + 8 * pStride, pStride, d20 - d10, d21 - d11, d22 - d12, d23 - d13);
            InputRow(o + 12 * pStride, pStride, d10 - d30, d11 - d31, d12 - d32, d13 - d33);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static unsafe void InputRow(float* o, int pStride, Vector512<float> t0, Vector512<float> t1, Vector512<float> t2, Vector512<float> t3)
    {
        (t0 - t2).Store(o); (t1 + t2).Store(o + pStride);
        (t2 - t1).Store(o + 2 * pStride); (t1 - t3).Store(o + 3 * pStride);
    }

    /// <summary>Aᵀ m A of one tile for 64 output channels, stored as up to 2x2 pixels (the
    /// last row or column of tiles can hang over an odd-sized image).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static unsafe void OutputTile(float* m, int pStride, float* output, int y, int x, int height, int width, int cb, int cout, SubPixelStore sub)
    {
        bool right = x + 1 < width, below = y + 1 < height;
        for (int c = 0; c < 64; c += 16)
        {
            float* q = m + c;
            // Aᵀ m: row 0 = m0 + m1 + m2, row 1 = m1 - m2 - m3 (rows of the 4x4 tile)
            Vector512<float> s00, s01, s02, s03, s10, s11, s12, s13;
            {
                var a0 = Vector512.Load(q); var a1 = Vector512.Load(q + pStride); var a2 = Vector512.Load(q + 2 * pStride); var a3 = Vector512.Load(q + 3 * pStride);
                var b0 = Vector512.Load(q + 4 * pStride); var b1 = Vector512.Load(q + 5 * pStride); var b2 = Vector512.Load(q + 6 * pStride); var b3 = Vector512.Load(q + 7 * pStride);
                var c0 = Vector512.Load(q + 8 * pStride); var c1 = Vector512.Load(q + 9 * pStride); var c2 = Vector512.Load(q + 10 * pStride); var c3 = Vector512.Load(q + 11 * pStride);
                var e0 = Vector512.Load(q + 12 * pStride); var e1 = Vector512.Load(q + 13 * pStride); var e2 = Vector512.Load(q + 14 * pStride); var e3 = Vector512.Load(q + 15 * pStride);
                s00 = a0 + b0 + c0; s01 = a1 + b1 + c1; s02 = a2 + b2 + c2; s03 = a3 + b3 + c3;
                s10 = b0 - c0 - e0; s11 = b1 - c1 - e1; s12 = b2 - c2 - e2; s13 = b3 - c3 - e3;
            }
            // ... then A along the columns
            sub.StoreOne(output + sub.Offset(y, x, cb + c, width, cout), s00 + s01 + s02);
            if (right) sub.StoreOne(output + sub.Offset(y, x + 1, cb + c, width, cout), s01 - s02 - s03);
            if (below)
            {
                sub.StoreOne(output + sub.Offset(y + 1, x, cb + c, width, cout), s10 + s11 + s12);
                if (right) sub.StoreOne(output + sub.Offset(y + 1, x + 1, cb + c, width, cout), s11 - s12 - s13);
            }
        }
    }

    /// <summary>Four tiles' products at one of the 16 tile positions for 64 output channels:
    /// m[t][co] = Σ_ci v[t][ci]·u[ci][co]. 16 accumulators; each weight load feeds four FMAs
    /// and each broadcast four, as in the direct kernel.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static unsafe void Gemm4x64(float* v, float* u, int cin, int cout, float* m)
    {
        Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
        Vector512<float> b0 = default, b1 = default, b2 = default, b3 = default;
        Vector512<float> c0 = default, c1 = default, c2 = default, c3 = default;
        Vector512<float> d0 = default, d1 = default, d2 = default, d3 = default;
        for (int ci = 0; ci < cin; ci++, u += cout)
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

    /// <summary>U = G g Gᵀ for every (in, out) channel pair, laid out [position 0..15][in][out]
    /// so that <see cref="Gemm4x64"/> reads 64 output channels with four loads. Computed in
    /// double and rounded once.</summary>
    internal static float[] WinogradWeights(ReadOnlySpan<float> weightsOihw, int cout, int cin)
    {
        var u = new float[16 * cin * cout];
        Span<double> gg = stackalloc double[12];
        for (int co = 0; co < cout; co++)
            for (int ci = 0; ci < cin; ci++)
            {
                var g = weightsOihw.Slice((co * cin + ci) * 9, 9);
                // G g: 4x3; G rows: (1,0,0), (½,½,½), (½,-½,½), (0,0,1)
                for (int c = 0; c < 3; c++)
                {
                    double g0 = g[c], g1 = g[3 + c], g2 = g[6 + c];
                    gg[c] = g0; gg[3 + c] = 0.5 * (g0 + g1 + g2); gg[6 + c] = 0.5 * (g0 - g1 + g2); gg[9 + c] = g2;
                }
                // (G g) Gᵀ: 4x4
                for (int i = 0; i < 4; i++)
                {
                    double h0 = gg[3 * i], h1 = gg[3 * i + 1], h2 = gg[3 * i + 2];
                    Span<double> row = [h0, 0.5 * (h0 + h1 + h2), 0.5 * (h0 - h1 + h2), h2];
                    for (int j = 0; j < 4; j++) u[((4 * i + j) * cin + ci) * cout + co] = (float)row[j];
                }
            }
        return u;
    }

    /// <summary>Whether <see cref="Run"/> takes the Winograd path for these weights.</summary>
    internal static bool WinogradSupported(int kernel, int cin, int cout)
        => Avx512F.IsSupported && kernel == 3 && cin % 16 == 0 && cout % 64 == 0;
}
