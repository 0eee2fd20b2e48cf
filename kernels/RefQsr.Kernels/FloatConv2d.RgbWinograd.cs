using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace RefQsr.Kernels;

/// <summary>The RGB tail (9x9 C→3) with Winograd F(3, 3) along each row. A k-tap kernel row
/// (k = 3·S) is S three-tap sub-filters at column shifts 0, 3, .., 3(S − 1), and F(3, 3)'s
/// tiles are three outputs wide, so sub-filter s of tile T reads exactly tile T + s's input
/// window: each padded row is transformed once per tile, and every kernel row costs 5·S
/// multiplies per three outputs instead of 3·k (45 against 81 per output and input channel
/// for the 9x9 tail). Rows stay direct (k kernel rows each). Points 0, 1, −1, 2, ∞:
/// <code>
///   Bᵀ = [2 −1 −2 1 0; 0 −2 −1 1 0; 0 2 −3 1 0; 0 −1 0 1 0; 0 2 −1 −2 1]
///   G  = [1/2 0 0; −1/2 −1/2 −1/2; −1/6 1/6 −1/6; 1/6 1/3 2/3; 0 0 1]
///   Aᵀ = [1 1 1 1 0; 0 1 −1 2 0; 0 1 1 4 1]
/// </code>
/// Float rounding differs from the direct sum (about 1e-5 of the HR values here; the tests
/// bound it), but every output is computed by the same operations in the same order whatever
/// the thread count, band or ring layout. A row's last windows run up to 55 floats past its
/// end (into tiles whose outputs are dropped); those reads go through a zero-filled copy, so
/// they never leave the buffer and read the same zeros in every layout.</summary>
public static partial class FloatConv2d
{
    const int RgbWinoOut = 3, RgbWinoPoints = 5;

    /// <summary>Largest kernel whose extra tiles after a chunk lie in one 16-lane block (S ≤ 16;
    /// tested up to 15).</summary>
    const int RgbWinoMaxKernel = 15;

    internal static bool RgbWinogradSupported(int kernel, int cin, int cout)
        => (Avx512F.IsSupported || Vector256Fma || Vector128.IsHardwareAccelerated) && cout == 3 && cin > 0 && kernel % RgbWinoOut == 0 && kernel <= RgbWinoMaxKernel;

    static readonly double[,] RgbWinoG =
    {
        { 0.5, 0, 0 }, { -0.5, -0.5, -0.5 }, { -1 / 6.0, 1 / 6.0, -1 / 6.0 }, { 1 / 6.0, 1 / 3.0, 2 / 3.0 }, { 0, 0, 1 },
    };

    /// <summary>U[j][ci][ky][s][co] = Σ_i G[j][i]·w[co][ci][ky][3s + i], summed in float64 and
    /// rounded once.</summary>
    internal static float[] RgbWinogradWeights(ReadOnlySpan<float> weightsOihw, int inChannels, int kernel)
    {
        int s = kernel / RgbWinoOut;
        var u = new float[RgbWinoPoints * inChannels * kernel * s * 3];
        for (int j = 0; j < RgbWinoPoints; j++)
            for (int ci = 0; ci < inChannels; ci++)
                for (int ky = 0; ky < kernel; ky++)
                    for (int f = 0; f < s; f++)
                        for (int co = 0; co < 3; co++)
                        {
                            double sum = 0;
                            for (int i = 0; i < 3; i++)
                                sum += RgbWinoG[j, i] * weightsOihw[((co * inChannels + ci) * kernel + ky) * kernel + 3 * f + i];
                            u[((((j * inChannels + ci) * kernel + ky) * s + f) * 3) + co] = (float)sum;
                        }
        return u;
    }

    /// <summary>Lane t of phase p of 48 consecutive floats a|b|c is element 3t + p: a first
    /// two-source permute takes what lies in a|b, a second the rest from c.</summary>
    static readonly int[] DeinterleaveIndices = MakeDeinterleaveIndices();

    static int[] MakeDeinterleaveIndices()
    {
        var idx = new int[3 * 2 * 16];
        for (int p = 0; p < 3; p++)
            for (int t = 0; t < 16; t++)
            {
                int e = 3 * t + p;
                idx[(2 * p) * 16 + t] = e < 32 ? e : 0;
                idx[(2 * p + 1) * 16 + t] = e < 32 ? t : 16 + e - 32;
            }
        return idx;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static unsafe Vector512<float> Phase(Vector512<float> a, Vector512<float> b, Vector512<float> c, int* idx, int p)
        => Avx512F.PermuteVar16x32x2(Avx512F.PermuteVar16x32x2(a, Vector512.Load(idx + 32 * p), b), Vector512.Load(idx + 32 * p + 16), c);

    /// <summary>16-tile groups per input transform: each chunk's phases are split once and
    /// the next block's first lanes give the last tile's d3 and d4 (valignd), so a chunk of
    /// two groups transforms 3 blocks of 16 tiles where one group at a time took 2 (2048
    /// against 1024 floats of buffer per channel row).</summary>
    const int RgbWinoGroups = 2;

    /// <summary>Bᵀd of tiles 0 .. 16·G + S − 2 of one padded row from <paramref name="src"/>
    /// (tile t's window is src[3t .. 3t + 4]; reads src[0 .. 48·(G + 1))); V_j of tile t goes
    /// to dst[j·jStride + t]. Lane t of phase p is src[3t + p]; d3 and d4 are phases 0 and 1
    /// one tile on.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static unsafe void RgbWinogradInputRow(float* src, float* dst, int jStride, int subFilters, int* idx, float* last)
    {
        var a = Vector512.Load(src); var b = Vector512.Load(src + 16); var c = Vector512.Load(src + 32);
        var p0 = Phase(a, b, c, idx, 0); var p1 = Phase(a, b, c, idx, 1); var p2 = Phase(a, b, c, idx, 2);
        for (int g = 0; g < RgbWinoGroups; g++)
        {
            float* next = src + 3 * PixelLanes * (g + 1);
            a = Vector512.Load(next); b = Vector512.Load(next + 16); c = Vector512.Load(next + 32);
            var n0 = Phase(a, b, c, idx, 0); var n1 = Phase(a, b, c, idx, 1);
            var d3 = Avx512F.AlignRight32(n0.AsInt32(), p0.AsInt32(), 1).AsSingle();
            var d4 = Avx512F.AlignRight32(n1.AsInt32(), p1.AsInt32(), 1).AsSingle();
            RgbWinogradInputTiles(p0, p1, p2, d3, d4, dst + PixelLanes * g, jStride);
            p0 = n0; p1 = n1; p2 = Phase(a, b, c, idx, 2);
        }
        if (subFilters == 1) return;
        // tiles 16·G .. 16·G + S − 2: lanes 0 .. S − 2 of the next block, whose d3 and d4 are its own lanes 1 .. S − 1
        var e3 = Avx512F.AlignRight32(Vector512<int>.Zero, p0.AsInt32(), 1).AsSingle();
        var e4 = Avx512F.AlignRight32(Vector512<int>.Zero, p1.AsInt32(), 1).AsSingle();
        RgbWinogradInputTiles(p0, p1, p2, e3, e4, last, PixelLanes);
        for (int j = 0; j < RgbWinoPoints; j++)
            for (int t = 0; t < subFilters - 1; t++) dst[j * jStride + PixelLanes * RgbWinoGroups + t] = last[j * PixelLanes + t];
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static unsafe void RgbWinogradInputTiles(Vector512<float> d0, Vector512<float> d1, Vector512<float> d2, Vector512<float> d3, Vector512<float> d4, float* dst, int jStride)
    {
        var two = Vector512.Create(2f);
        Avx512F.FusedMultiplyAdd(two, d0 - d2, d3 - d1).Store(dst);
        Avx512F.FusedMultiplyAdd(-two, d1, d3 - d2).Store(dst + jStride);
        Avx512F.FusedMultiplyAdd(two, d1 - d2, d3 - d2).Store(dst + 2 * jStride);
        (d3 - d1).Store(dst + 3 * jStride);
        Avx512F.FusedMultiplyAdd(two, d1 - d3, d4 - d2).Store(dst + 4 * jStride);
    }

    /// <summary>Output rows [y0, y1) of the RGB tail with <see cref="RgbWinogradWeights"/>
    /// <paramref name="pu"/>; same contract as <see cref="RgbPixelVectorRows"/> (padded CHW
    /// rows through <paramref name="map"/>, each <paramref name="width"/> + k − 1 long). Per
    /// pass of eight rows and chunk of 32 tiles (96 pixels): the k + 7 input rows of every
    /// channel are transformed into a local buffer [j][ci][row][tile] (696 KB for 64 channels
    /// and k = 9, within L2; one channel's rows, 2 KB, stay in L1 while its k·S weights sweep
    /// them); then, per 16 tiles, each of the five transform points runs the same
    /// 24-accumulator loop as the direct kernel (eight rows x three channels share each
    /// broadcast), and Aᵀ turns the five into three outputs.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static unsafe void RgbWinogradRows(float* pin, int plane, ChwRowMap map, float* pu, int cin, int k, float* pout, int width, int y0, int y1)
    {
        const int Rows = RgbRowsPerPass, ChunkTiles = PixelLanes * RgbWinoGroups;
        int subFilters = k / RgbWinoOut, rowLength = width + k - 1, inRows = Rows + k - 1;
        int tiles = ChunkTiles + subFilters - 1, tileCount = (width + RgbWinoOut - 1) / RgbWinoOut;
        int jStride = cin * inRows * tiles;
        const int Need = 3 * PixelLanes * (RgbWinoGroups + 1);   // floats of a row one chunk's transform reads
        float[] vbuf = ArrayPool<float>.Shared.Rent(RgbWinoPoints * jStride);
        var m = stackalloc float[RgbWinoPoints * Rows * 3 * PixelLanes];
        var outs = stackalloc float[RgbWinoOut * PixelLanes];
        var last = stackalloc float[RgbWinoPoints * PixelLanes];
        var rowAt = stackalloc int[inRows];
        var edge = stackalloc float[Need];
        try
        {
            fixed (float* pv = vbuf)
            fixed (int* idx = DeinterleaveIndices)
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
                                if (avail < Need)
                                {
                                    // the windows run past the padded row's end: read zeros there, inside the buffer
                                    new Span<float>(src, avail).CopyTo(new Span<float>(edge, Need));
                                    new Span<float>(edge + avail, Need - avail).Clear();
                                    src = edge;
                                }
                                RgbWinogradInputRow(src, pv + (ci * inRows + i) * tiles, jStride, subFilters, idx, last);
                            }
                        for (int t0 = c0; t0 < Math.Min(tileCount, c0 + ChunkTiles); t0 += PixelLanes)
                        {
                            for (int j = 0; j < RgbWinoPoints; j++)
                                RgbWinogradPoint(pv + j * jStride + (t0 - c0), pu + j * cin * k * subFilters * 3, cin, k, subFilters, inRows, tiles, m + j * Rows * 3 * PixelLanes);
                            int n = Math.Min(PixelLanes, tileCount - t0), x0 = RgbWinoOut * t0;
                            for (int r = 0; r < rows; r++)
                                for (int co = 0; co < 3; co++)
                                {
                                    float* mm = m + (r * 3 + co) * PixelLanes;
                                    const int J = Rows * 3 * PixelLanes;
                                    var m0 = Vector512.Load(mm); var m1 = Vector512.Load(mm + J); var m2 = Vector512.Load(mm + 2 * J);
                                    var m3 = Vector512.Load(mm + 3 * J); var m4 = Vector512.Load(mm + 4 * J);
                                    (m0 + m1 + m2 + m3).Store(outs);
                                    Avx512F.FusedMultiplyAdd(Vector512.Create(2f), m3, m1 - m2).Store(outs + PixelLanes);
                                    (Avx512F.FusedMultiplyAdd(Vector512.Create(4f), m3, m1 + m2) + m4).Store(outs + 2 * PixelLanes);
                                    float* dst = pout + (long)(y + r) * width * 3 + co;
                                    for (int t = 0; t < n; t++)
                                        for (int o = 0; o < RgbWinoOut; o++)
                                        {
                                            int x = x0 + RgbWinoOut * t + o;
                                            if (x < width) dst[x * 3] = outs[o * PixelLanes + t];
                                        }
                                }
                        }
                    }
                }
            }
        }
        finally { ArrayPool<float>.Shared.Return(vbuf); }
    }

    /// <summary>One transform point: M[r][co][t] = Σ_ci Σ_ky Σ_s U[ci][ky][s][co]·V[ci][r + ky][t + s]
    /// for eight rows, three channels and 16 tiles (24 accumulators).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static unsafe void RgbWinogradPoint(float* v, float* wt, int cin, int k, int subFilters, int inRows, int tiles, float* m)
    {
        Vector512<float> a00 = default, a01 = default, a02 = default;
        Vector512<float> a10 = default, a11 = default, a12 = default;
        Vector512<float> a20 = default, a21 = default, a22 = default;
        Vector512<float> a30 = default, a31 = default, a32 = default;
        Vector512<float> a40 = default, a41 = default, a42 = default;
        Vector512<float> a50 = default, a51 = default, a52 = default;
        Vector512<float> a60 = default, a61 = default, a62 = default;
        Vector512<float> a70 = default, a71 = default, a72 = default;
        for (int ci = 0; ci < cin; ci++)
            for (int ky = 0; ky < k; ky++)
            {
                float* row0 = v + (ci * inRows + ky) * tiles;
                for (int s = 0; s < subFilters; s++, wt += 3)
                {
                    float* p = row0 + s;
                    var w0 = Vector512.Create(wt[0]); var w1 = Vector512.Create(wt[1]); var w2 = Vector512.Create(wt[2]);
                    var v0 = Vector512.Load(p);
                    a00 = Avx512F.FusedMultiplyAdd(v0, w0, a00); a01 = Avx512F.FusedMultiplyAdd(v0, w1, a01); a02 = Avx512F.FusedMultiplyAdd(v0, w2, a02);
                    var v1 = Vector512.Load(p + tiles);
                    a10 = Avx512F.FusedMultiplyAdd(v1, w0, a10); a11 = Avx512F.FusedMultiplyAdd(v1, w1, a11); a12 = Avx512F.FusedMultiplyAdd(v1, w2, a12);
                    var v2 = Vector512.Load(p + 2 * tiles);
                    a20 = Avx512F.FusedMultiplyAdd(v2, w0, a20); a21 = Avx512F.FusedMultiplyAdd(v2, w1, a21); a22 = Avx512F.FusedMultiplyAdd(v2, w2, a22);
                    var v3 = Vector512.Load(p + 3 * tiles);
                    a30 = Avx512F.FusedMultiplyAdd(v3, w0, a30); a31 = Avx512F.FusedMultiplyAdd(v3, w1, a31); a32 = Avx512F.FusedMultiplyAdd(v3, w2, a32);
                    var v4 = Vector512.Load(p + 4 * tiles);
                    a40 = Avx512F.FusedMultiplyAdd(v4, w0, a40); a41 = Avx512F.FusedMultiplyAdd(v4, w1, a41); a42 = Avx512F.FusedMultiplyAdd(v4, w2, a42);
                    var v5 = Vector512.Load(p + 5 * tiles);
                    a50 = Avx512F.FusedMultiplyAdd(v5, w0, a50); a51 = Avx512F.FusedMultiplyAdd(v5, w1, a51); a52 = Avx512F.FusedMultiplyAdd(v5, w2, a52);
                    var v6 = Vector512.Load(p + 6 * tiles);
                    a60 = Avx512F.FusedMultiplyAdd(v6, w0, a60); a61 = Avx512F.FusedMultiplyAdd(v6, w1, a61); a62 = Avx512F.FusedMultiplyAdd(v6, w2, a62);
                    var v7 = Vector512.Load(p + 7 * tiles);
                    a70 = Avx512F.FusedMultiplyAdd(v7, w0, a70); a71 = Avx512F.FusedMultiplyAdd(v7, w1, a71); a72 = Avx512F.FusedMultiplyAdd(v7, w2, a72);
                }
            }
        a00.Store(m + 0); a01.Store(m + 16); a02.Store(m + 32);
        a10.Store(m + 48); a11.Store(m + 64); a12.Store(m + 80);
        a20.Store(m + 96); a21.Store(m + 112); a22.Store(m + 128);
        a30.Store(m + 144); a31.Store(m + 160); a32.Store(m + 176);
        a40.Store(m + 192); a41.Store(m + 208); a42.Store(m + 224);
        a50.Store(m + 240); a51.Store(m + 256); a52.Store(m + 272);
        a60.Store(m + 288); a61.Store(m + 304); a62.Store(m + 320);
        a70.Store(m + 336); a71.Store(m + 352); a72.Store(m + 368);
    }
}
