using System.Buffers;
using System.Runtime.CompilerServices;

namespace RefQsr.Kernels;

public static partial class FloatConv2d
{
    const int RgbWinoNarrowHalf = 4, RgbWinoNarrowChunkTiles = PixelLanes * RgbWinoGroups;

    /// <summary>Floats of a row one chunk's transform reads: the extra tiles' block starts at
    /// tile 32 and reads its 3·Count floats and the next two (at most 8 lanes).</summary>
    const int RgbWinoNarrowMaxNeed = 3 * RgbWinoNarrowChunkTiles + 3 * 8 + 2;

    /// <summary>Bᵀd of Count tiles whose windows start at src, src + 3, ..: the Vector512 path's
    /// operations (<see cref="RgbWinogradInputTiles"/>) on the same elements (d3, d4: d0, d1 one
    /// lane on, their last lane the next block's first two floats).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static unsafe void RgbWinogradInputTilesNarrow<TOps, TV>(float* src, float* dst, int jStride)
        where TOps : IFloatVector<TV> where TV : unmanaged
    {
        TOps.LoadPhases3(src, out var d0, out var d1, out var d2);
        int n = TOps.Count;
        var d3 = TOps.NextLane(d0, src[3 * n]);
        var d4 = TOps.NextLane(d1, src[3 * n + 1]);
        TV two = TOps.Broadcast(2f), minusTwo = TOps.Broadcast(-2f);
        TOps.Store(TOps.Fma(two, TOps.Subtract(d0, d2), TOps.Subtract(d3, d1)), dst);
        TOps.Store(TOps.Fma(minusTwo, d1, TOps.Subtract(d3, d2)), dst + jStride);
        TOps.Store(TOps.Fma(two, TOps.Subtract(d1, d2), TOps.Subtract(d3, d2)), dst + 2 * jStride);
        TOps.Store(TOps.Subtract(d3, d1), dst + 3 * jStride);
        TOps.Store(TOps.Fma(two, TOps.Subtract(d1, d3), TOps.Subtract(d4, d2)), dst + 4 * jStride);
    }

    /// <summary>Tiles 0 .. 31 + S − 1 of one padded row, V_j of tile t to dst[j·jStride + t], as
    /// <see cref="RgbWinogradInputRow"/> lays them out.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static unsafe void RgbWinogradInputRowNarrow<TOps, TV>(float* src, float* dst, int jStride, int subFilters, float* last)
        where TOps : IFloatVector<TV> where TV : unmanaged
    {
        int n = TOps.Count;
        for (int g = 0; g < RgbWinoNarrowChunkTiles; g += n)
            RgbWinogradInputTilesNarrow<TOps, TV>(src + 3 * g, dst + g, jStride);
        if (subFilters == 1) return;
        RgbWinogradInputTilesNarrow<TOps, TV>(src + 3 * RgbWinoNarrowChunkTiles, last, n);
        for (int j = 0; j < RgbWinoPoints; j++)
            for (int t = 0; t < subFilters - 1; t++) dst[j * jStride + RgbWinoNarrowChunkTiles + t] = last[j * n + t];
    }

    /// <summary><see cref="RgbWinogradRows"/> in registers narrower than AVX-512's, written once
    /// (<see cref="IFloatVector{TV}"/>: AVX2 and FMA, or the cross-platform Vector128 API): the
    /// same transform buffer per pass of eight rows and chunk of 32 tiles, then per Count tiles
    /// and half pass of four rows the 12-accumulator point loop (four rows x three channels, as
    /// <see cref="RgbPixelVectorRowsNarrow"/>). Each value goes through the Vector512 path's
    /// operations in the same order, so every width gives the same bits (the tests hold each to
    /// one scalar model). Kernels up to 3·(Count + 1) wide: the extra tiles after a chunk lie in
    /// one block.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static unsafe void RgbWinogradRowsNarrow<TOps, TV>(float* pin, int plane, ChwRowMap map, float* pu, int cin, int k, float* pout, int width, int y0, int y1)
        where TOps : IFloatVector<TV> where TV : unmanaged
    {
        const int Rows = RgbRowsPerPass, Half = RgbWinoNarrowHalf, ChunkTiles = RgbWinoNarrowChunkTiles;
        int lanes = TOps.Count, need = 3 * ChunkTiles + 3 * lanes + 2;
        int subFilters = k / RgbWinoOut, rowLength = width + k - 1, inRows = Rows + k - 1;
        int tiles = ChunkTiles + subFilters - 1, tileCount = (width + RgbWinoOut - 1) / RgbWinoOut;
        int jStride = cin * inRows * tiles;
        float[] vbuf = ArrayPool<float>.Shared.Rent(RgbWinoPoints * jStride);
        var m = stackalloc float[RgbWinoPoints * Half * 3 * 8];
        var outs = stackalloc float[RgbWinoOut * 8];
        var last = stackalloc float[RgbWinoPoints * 8];
        var rowAt = stackalloc int[inRows];
        var edge = stackalloc float[RgbWinoNarrowMaxNeed];
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
                                if (avail < need)
                                {
                                    // past the padded row's end: zeros, as the Vector512 path reads there
                                    new Span<float>(src, avail).CopyTo(new Span<float>(edge, need));
                                    new Span<float>(edge + avail, need - avail).Clear();
                                    src = edge;
                                }
                                RgbWinogradInputRowNarrow<TOps, TV>(src, pv + (ci * inRows + i) * tiles, jStride, subFilters, last);
                            }
                        for (int t0 = c0; t0 < Math.Min(tileCount, c0 + ChunkTiles); t0 += lanes)
                            for (int h = 0; h < rows; h += Half)
                            {
                                int J = Half * 3 * lanes;
                                for (int j = 0; j < RgbWinoPoints; j++)
                                    RgbWinogradPointNarrow<TOps, TV>(pv + j * jStride + h * tiles + (t0 - c0), pu + j * cin * k * subFilters * 3, cin, k, subFilters, inRows, tiles, m + j * J);
                                int n = Math.Min(lanes, tileCount - t0), x0 = RgbWinoOut * t0;
                                for (int r = 0; r < Math.Min(Half, rows - h); r++)
                                    for (int co = 0; co < 3; co++)
                                    {
                                        float* mm = m + (r * 3 + co) * lanes;
                                        var m0 = TOps.Load(mm); var m1 = TOps.Load(mm + J); var m2 = TOps.Load(mm + 2 * J);
                                        var m3 = TOps.Load(mm + 3 * J); var m4 = TOps.Load(mm + 4 * J);
                                        TOps.Store(TOps.Add(TOps.Add(TOps.Add(m0, m1), m2), m3), outs);
                                        TOps.Store(TOps.Fma(TOps.Broadcast(2f), m3, TOps.Subtract(m1, m2)), outs + lanes);
                                        TOps.Store(TOps.Add(TOps.Fma(TOps.Broadcast(4f), m3, TOps.Add(m1, m2)), m4), outs + 2 * lanes);
                                        float* dst = pout + (long)(y + h + r) * width * 3 + co;
                                        for (int t = 0; t < n; t++)
                                            for (int o = 0; o < RgbWinoOut; o++)
                                            {
                                                int x = x0 + RgbWinoOut * t + o;
                                                if (x < width) dst[x * 3] = outs[o * lanes + t];
                                            }
                                    }
                            }
                    }
                }
            }
        }
        finally { ArrayPool<float>.Shared.Return(vbuf); }
    }

    /// <summary>One transform point for four rows, three channels and Count tiles (12 sums):
    /// M[r][co][t] = Σ_ci Σ_ky Σ_s U[ci][ky][s][co]·V[ci][r + ky][t + s], in that order.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static unsafe void RgbWinogradPointNarrow<TOps, TV>(float* v, float* wt, int cin, int k, int subFilters, int inRows, int tiles, float* m)
        where TOps : IFloatVector<TV> where TV : unmanaged
    {
        TV a00 = default, a01 = default, a02 = default;
        TV a10 = default, a11 = default, a12 = default;
        TV a20 = default, a21 = default, a22 = default;
        TV a30 = default, a31 = default, a32 = default;
        for (int ci = 0; ci < cin; ci++)
            for (int ky = 0; ky < k; ky++)
            {
                float* row0 = v + (ci * inRows + ky) * tiles;
                for (int s = 0; s < subFilters; s++, wt += 3)
                {
                    float* p = row0 + s;
                    var w0 = TOps.Broadcast(wt[0]); var w1 = TOps.Broadcast(wt[1]); var w2 = TOps.Broadcast(wt[2]);
                    var v0 = TOps.Load(p);
                    a00 = TOps.Fma(v0, w0, a00); a01 = TOps.Fma(v0, w1, a01); a02 = TOps.Fma(v0, w2, a02);
                    var v1 = TOps.Load(p + tiles);
                    a10 = TOps.Fma(v1, w0, a10); a11 = TOps.Fma(v1, w1, a11); a12 = TOps.Fma(v1, w2, a12);
                    var v2 = TOps.Load(p + 2 * tiles);
                    a20 = TOps.Fma(v2, w0, a20); a21 = TOps.Fma(v2, w1, a21); a22 = TOps.Fma(v2, w2, a22);
                    var v3 = TOps.Load(p + 3 * tiles);
                    a30 = TOps.Fma(v3, w0, a30); a31 = TOps.Fma(v3, w1, a31); a32 = TOps.Fma(v3, w2, a32);
                }
            }
        int n = TOps.Count;
        TOps.Store(a00, m); TOps.Store(a01, m + n); TOps.Store(a02, m + 2 * n);
        TOps.Store(a10, m + 3 * n); TOps.Store(a11, m + 4 * n); TOps.Store(a12, m + 5 * n);
        TOps.Store(a20, m + 6 * n); TOps.Store(a21, m + 7 * n); TOps.Store(a22, m + 8 * n);
        TOps.Store(a30, m + 9 * n); TOps.Store(a31, m + 10 * n); TOps.Store(a32, m + 11 * n);
    }
}
