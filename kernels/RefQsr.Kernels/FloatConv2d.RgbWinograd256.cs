using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using X86Fma = System.Runtime.Intrinsics.X86.Fma;

namespace RefQsr.Kernels;

public static partial class FloatConv2d
{
    /// <summary>Lane t of <c>PhaseN256</c> is element 3t + N of the 24 floats a|b|c. 3 is odd, so
    /// the eight wanted elements sit at eight different positions mod 8: two blends gather
    /// them into one vector, and one permute puts lane t at position (3t + N) mod 8.</summary>
    static readonly Vector256<int> Phase0Order = Vector256.Create(0, 3, 6, 1, 4, 7, 2, 5);
    static readonly Vector256<int> Phase1Order = Vector256.Create(1, 4, 7, 2, 5, 0, 3, 6);
    static readonly Vector256<int> Phase2Order = Vector256.Create(2, 5, 0, 3, 6, 1, 4, 7);
    static readonly Vector256<int> NextTileOrder = Vector256.Create(1, 2, 3, 4, 5, 6, 7, 7);

    // blend masks: positions taken from b, then from c (the rest stay a's)
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<float> Phase0256(Vector256<float> a, Vector256<float> b, Vector256<float> c)
        => Avx2.PermuteVar8x32(Avx.Blend(Avx.Blend(a, b, 0x92), c, 0x24), Phase0Order);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<float> Phase1256(Vector256<float> a, Vector256<float> b, Vector256<float> c)
        => Avx2.PermuteVar8x32(Avx.Blend(Avx.Blend(a, b, 0x24), c, 0x49), Phase1Order);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<float> Phase2256(Vector256<float> a, Vector256<float> b, Vector256<float> c)
        => Avx2.PermuteVar8x32(Avx.Blend(Avx.Blend(a, b, 0x49), c, 0x92), Phase2Order);

    const int RgbWino256Lanes = 8, RgbWino256Half = 4, RgbWino256ChunkTiles = PixelLanes * RgbWinoGroups;

    /// <summary>Floats of a row one chunk's transform reads: the extra tiles' block starts at
    /// tile 32 and reads its 24 floats and the next two.</summary>
    const int RgbWino256Need = 3 * RgbWino256ChunkTiles + 3 * RgbWino256Lanes + 2;

    /// <summary>Bᵀd of 8 tiles whose windows start at src, src + 3, ..: the Vector512 path's
    /// operations (<see cref="RgbWinogradInputTiles"/>) on the same elements.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static unsafe void RgbWinogradInputTiles256(float* src, float* dst, int jStride)
    {
        var a = Vector256.Load(src); var b = Vector256.Load(src + 8); var c = Vector256.Load(src + 16);
        var d0 = Phase0256(a, b, c); var d1 = Phase1256(a, b, c); var d2 = Phase2256(a, b, c);
        // d3, d4: d0, d1 one lane on, their last lane the next block's first (src[24], src[25])
        var d3 = Avx.Blend(Avx2.PermuteVar8x32(d0, NextTileOrder), Vector256.Create(src[24]), 0x80);
        var d4 = Avx.Blend(Avx2.PermuteVar8x32(d1, NextTileOrder), Vector256.Create(src[25]), 0x80);
        var two = Vector256.Create(2f);
        X86Fma.MultiplyAdd(two, d0 - d2, d3 - d1).Store(dst);
        X86Fma.MultiplyAdd(-two, d1, d3 - d2).Store(dst + jStride);
        X86Fma.MultiplyAdd(two, d1 - d2, d3 - d2).Store(dst + 2 * jStride);
        (d3 - d1).Store(dst + 3 * jStride);
        X86Fma.MultiplyAdd(two, d1 - d3, d4 - d2).Store(dst + 4 * jStride);
    }

    /// <summary>Tiles 0 .. 31 + S − 1 of one padded row (reads src[0 .. RgbWino256Need)), V_j of
    /// tile t to dst[j·jStride + t], as <see cref="RgbWinogradInputRow"/> lays them out.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static unsafe void RgbWinogradInputRow256(float* src, float* dst, int jStride, int subFilters, float* last)
    {
        for (int g = 0; g < RgbWino256ChunkTiles; g += RgbWino256Lanes)
            RgbWinogradInputTiles256(src + 3 * g, dst + g, jStride);
        if (subFilters == 1) return;
        RgbWinogradInputTiles256(src + 3 * RgbWino256ChunkTiles, last, RgbWino256Lanes);
        for (int j = 0; j < RgbWinoPoints; j++)
            for (int t = 0; t < subFilters - 1; t++) dst[j * jStride + RgbWino256ChunkTiles + t] = last[j * RgbWino256Lanes + t];
    }

    /// <summary><see cref="RgbWinogradRows"/> in Vector256 registers (AVX2 and FMA, no AVX-512):
    /// the same transform buffer per pass of eight rows and chunk of 32 tiles, then per 8 tiles
    /// and half pass of four rows the 12-accumulator point loop (four rows x three channels,
    /// as <see cref="RgbPixelVectorRowsNarrow"/>). Each value goes through the Vector512 path's
    /// operations in the same order, so both give the same bits.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static unsafe void RgbWinogradRows256(float* pin, int plane, ChwRowMap map, float* pu, int cin, int k, float* pout, int width, int y0, int y1)
    {
        const int Rows = RgbRowsPerPass, Lanes = RgbWino256Lanes, Half = RgbWino256Half, ChunkTiles = RgbWino256ChunkTiles;
        int subFilters = k / RgbWinoOut, rowLength = width + k - 1, inRows = Rows + k - 1;
        int tiles = ChunkTiles + subFilters - 1, tileCount = (width + RgbWinoOut - 1) / RgbWinoOut;
        int jStride = cin * inRows * tiles;
        float[] vbuf = ArrayPool<float>.Shared.Rent(RgbWinoPoints * jStride);
        var m = stackalloc float[RgbWinoPoints * Half * 3 * Lanes];
        var outs = stackalloc float[RgbWinoOut * Lanes];
        var last = stackalloc float[RgbWinoPoints * Lanes];
        var rowAt = stackalloc int[inRows];
        var edge = stackalloc float[RgbWino256Need];
        try
        {
            fixed (float* pv = vbuf)
            {
                for (int y = y0; y < y1; y += Rows)
                {
                    // rows past the last compute a duplicate of the last row and are dropped
                    int rows = Math.Min(Rows, y1 - y);
                    for (int i = 0; i < inRows; i++) rowAt[i] = map.Offset(y + Math.Min(i, rows + k - 2));
                    for (int c0 = 0; c0 < tileCount; c0 += ChunkTiles)
                    {
                        int avail = rowLength - RgbWinoOut * c0;
                        for (int ci = 0; ci < cin; ci++)
                            for (int i = 0; i < inRows; i++)
                            {
                                float* src = pin + ci * plane + rowAt[i] + RgbWinoOut * c0;
                                if (avail < RgbWino256Need)
                                {
                                    // past the padded row's end: zeros, as the Vector512 path reads there
                                    new Span<float>(src, avail).CopyTo(new Span<float>(edge, RgbWino256Need));
                                    new Span<float>(edge + avail, RgbWino256Need - avail).Clear();
                                    src = edge;
                                }
                                RgbWinogradInputRow256(src, pv + (ci * inRows + i) * tiles, jStride, subFilters, last);
                            }
                        for (int t0 = c0; t0 < Math.Min(tileCount, c0 + ChunkTiles); t0 += Lanes)
                            for (int h = 0; h < rows; h += Half)
                            {
                                for (int j = 0; j < RgbWinoPoints; j++)
                                    RgbWinogradPoint256(pv + j * jStride + h * tiles + (t0 - c0), pu + j * cin * k * subFilters * 3, cin, k, subFilters, inRows, tiles, m + j * Half * 3 * Lanes);
                                int n = Math.Min(Lanes, tileCount - t0), x0 = RgbWinoOut * t0;
                                for (int r = 0; r < Math.Min(Half, rows - h); r++)
                                    for (int co = 0; co < 3; co++)
                                    {
                                        float* mm = m + (r * 3 + co) * Lanes;
                                        const int J = Half * 3 * Lanes;
                                        var m0 = Vector256.Load(mm); var m1 = Vector256.Load(mm + J); var m2 = Vector256.Load(mm + 2 * J);
                                        var m3 = Vector256.Load(mm + 3 * J); var m4 = Vector256.Load(mm + 4 * J);
                                        (m0 + m1 + m2 + m3).Store(outs);
                                        X86Fma.MultiplyAdd(Vector256.Create(2f), m3, m1 - m2).Store(outs + Lanes);
                                        (X86Fma.MultiplyAdd(Vector256.Create(4f), m3, m1 + m2) + m4).Store(outs + 2 * Lanes);
                                        float* dst = pout + (long)(y + h + r) * width * 3 + co;
                                        for (int t = 0; t < n; t++)
                                            for (int o = 0; o < RgbWinoOut; o++)
                                            {
                                                int x = x0 + RgbWinoOut * t + o;
                                                if (x < width) dst[x * 3] = outs[o * Lanes + t];
                                            }
                                    }
                            }
                    }
                }
            }
        }
        finally { ArrayPool<float>.Shared.Return(vbuf); }
    }

    /// <summary>One transform point for four rows, three channels and 8 tiles (12 accumulators):
    /// M[r][co][t] = Σ_ci Σ_ky Σ_s U[ci][ky][s][co]·V[ci][r + ky][t + s], in that order.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static unsafe void RgbWinogradPoint256(float* v, float* wt, int cin, int k, int subFilters, int inRows, int tiles, float* m)
    {
        Vector256<float> a00 = default, a01 = default, a02 = default;
        Vector256<float> a10 = default, a11 = default, a12 = default;
        Vector256<float> a20 = default, a21 = default, a22 = default;
        Vector256<float> a30 = default, a31 = default, a32 = default;
        for (int ci = 0; ci < cin; ci++)
            for (int ky = 0; ky < k; ky++)
            {
                float* row0 = v + (ci * inRows + ky) * tiles;
                for (int s = 0; s < subFilters; s++, wt += 3)
                {
                    float* p = row0 + s;
                    var w0 = Vector256.Create(wt[0]); var w1 = Vector256.Create(wt[1]); var w2 = Vector256.Create(wt[2]);
                    var v0 = Vector256.Load(p);
                    a00 = X86Fma.MultiplyAdd(v0, w0, a00); a01 = X86Fma.MultiplyAdd(v0, w1, a01); a02 = X86Fma.MultiplyAdd(v0, w2, a02);
                    var v1 = Vector256.Load(p + tiles);
                    a10 = X86Fma.MultiplyAdd(v1, w0, a10); a11 = X86Fma.MultiplyAdd(v1, w1, a11); a12 = X86Fma.MultiplyAdd(v1, w2, a12);
                    var v2 = Vector256.Load(p + 2 * tiles);
                    a20 = X86Fma.MultiplyAdd(v2, w0, a20); a21 = X86Fma.MultiplyAdd(v2, w1, a21); a22 = X86Fma.MultiplyAdd(v2, w2, a22);
                    var v3 = Vector256.Load(p + 3 * tiles);
                    a30 = X86Fma.MultiplyAdd(v3, w0, a30); a31 = X86Fma.MultiplyAdd(v3, w1, a31); a32 = X86Fma.MultiplyAdd(v3, w2, a32);
                }
            }
        a00.Store(m + 0); a01.Store(m + 8); a02.Store(m + 16);
        a10.Store(m + 24); a11.Store(m + 32); a12.Store(m + 40);
        a20.Store(m + 48); a21.Store(m + 56); a22.Store(m + 64);
        a30.Store(m + 72); a31.Store(m + 80); a32.Store(m + 88);
    }
}
