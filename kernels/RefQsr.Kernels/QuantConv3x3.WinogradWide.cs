using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace RefQsr.Kernels;

public static partial class QuantConv3x3
{
    /// <summary>The transformed weights of the wide-tile integer Winograd paths: F(4, 3) along
    /// x and F(<see cref="TileRows"/>, 3) along y, every transform scaled to integers.
    /// U' = Gy' g G4'ᵀ as int16 laid out [position][in / 2][out][in % 2] like
    /// <see cref="IntWinogradWeights"/>'s, with Gy' = 2·G2 (rows (2,0,0), (1,1,1), (1,−1,1),
    /// (0,0,2)) or 24·G4, and G4' = 24·G4 (rows (6,0,0), (−4,−4,−4), (−4,4,−4), (1,2,4),
    /// (1,−2,4), (0,0,24)); the result is <see cref="Scale"/> times the convolution.</summary>
    internal sealed class WideWinogradWeights(short[] u, int tileRows, int maxAbs, long maxAbsSum)
    {
        public short[] U { get; } = u;
        /// <summary>Output rows per tile: 2 (F(2x4), 24 positions) or 4 (F(4x4), 36).</summary>
        public int TileRows { get; } = tileRows;
        public int Positions => (TileRows + 2) * 6;
        /// <summary>The scale of the transformed result: 2·24 or 24·24.</summary>
        public int Scale => (TileRows == 2 ? 2 : 24) * 24;
        /// <summary>max |U'|.</summary>
        public int MaxAbs { get; } = maxAbs;
        /// <summary>max over output channels of Σ |g| over inputs and taps: |conv| ≤ this times
        /// the largest activation code.</summary>
        public long MaxAbsSum { get; } = maxAbsSum;
        public long Bytes => 2L * U.Length;

        /// <summary>Whether the path is exact for activation codes up to
        /// <paramref name="maxActivation"/>. V' = By d B4 needs int16: |V'| ≤ 20·A (F(2x4)) or
        /// 100·A (F(4x4)), at most 25500 for bytes, so always. Products and sums are taken
        /// modulo 2³² (vpmaddwd and vpaddd wrap, the transforms only add, subtract and shift),
        /// so intermediate values may wrap; what must fit int32 is the true result,
        /// Scale·conv, before the exact division.</summary>
        public bool Exact(int maxActivation) => (long)Scale * maxActivation * MaxAbsSum <= int.MaxValue;
    }

    /// <summary>U' for tiles of <paramref name="tileRows"/> (2 or 4) rows, or null where a value
    /// does not fit int16 (only F(4x4) with weight codes beyond ±56 can fail: |U'| ≤ 576·|g|;
    /// F(2x4) keeps |U'| ≤ 72·127).</summary>
    internal static WideWinogradWeights? WideWinogradWeightsFor(QuantConvWeights w, int tileRows)
    {
        if (tileRows is not (2 or 4)) throw new ArgumentOutOfRangeException(nameof(tileRows), tileRows, "tiles are 2 or 4 rows high");
        int[,] gy2 = tileRows == 2 ? G2Scaled : G4Scaled;
        int ny = gy2.GetLength(0), positions = ny * 6;
        // the matrices as flat spans, read in the loop below 4096 times per 64x64 conv
        Span<int> gx = stackalloc int[6 * 3], gy = stackalloc int[6 * 3];
        for (int j = 0; j < 6; j++) for (int i = 0; i < 3; i++) gx[j * 3 + i] = G4Scaled[j, i];
        for (int j = 0; j < ny; j++) for (int i = 0; i < 3; i++) gy[j * 3 + i] = gy2[j, i];
        int cin = w.InChannels, cout = w.OutChannels;
        var oihw = w.UnpackOihw();
        var u = new short[positions * cin * cout];
        var absSums = new long[cout];
        int maxAbs = 0;
        Span<int> h = stackalloc int[3 * 6];
        // input channel outermost: consecutive output channels' values lie 2 shorts apart in U'
        for (int ci = 0; ci < cin; ci++)
            for (int co = 0; co < cout; co++)
            {
                var g = oihw.AsSpan((co * cin + ci) * 9, 9);
                for (int ky = 0; ky < 3; ky++)   // g G4'ᵀ: 3x6
                    for (int j = 0; j < 6; j++)
                        h[ky * 6 + j] = g[3 * ky] * gx[j * 3] + g[3 * ky + 1] * gx[j * 3 + 1] + g[3 * ky + 2] * gx[j * 3 + 2];
                for (int t = 0; t < 9; t++) absSums[co] += Math.Abs((int)g[t]);
                int at = (ci / 2 * cout + co) * 2 + (ci & 1), positionStride = cin / 2 * cout * 2;
                for (int i = 0; i < ny; i++)     // Gy' (g G4'ᵀ)
                    for (int j = 0; j < 6; j++)
                    {
                        int v = gy[i * 3] * h[j] + gy[i * 3 + 1] * h[6 + j] + gy[i * 3 + 2] * h[12 + j];
                        if (v < short.MinValue || v > short.MaxValue) return null;
                        maxAbs = Math.Max(maxAbs, Math.Abs(v));
                        u[(i * 6 + j) * positionStride + at] = (short)v;
                    }
            }
        long maxAbsSum = 0;
        foreach (long a in absSums) maxAbsSum = Math.Max(maxAbsSum, a);
        return new WideWinogradWeights(u, tileRows, maxAbs, maxAbsSum);
    }

    static readonly int[,] G2Scaled = { { 2, 0, 0 }, { 1, 1, 1 }, { 1, -1, 1 }, { 0, 0, 2 } };
    static readonly int[,] G4Scaled = { { 6, 0, 0 }, { -4, -4, -4 }, { -4, 4, -4 }, { 1, 2, 4 }, { 1, -2, 4 }, { 0, 0, 24 } };

    /// <summary>Tiles per pass of the wide paths: their V' (positions x tiles x cin int16)
    /// stays about L1's size. (4 to 24 tiles timed the same within noise here, 96x96 64→64.)</summary>
    static int WideChunkTiles(int tileRows) => tileRows == 2 ? 12 : 8;

    /// <summary>Rows r0 .. r1−1 of the conv by integer Winograd F(m x 4, 3x3), m =
    /// <see cref="WideWinogradWeights.TileRows"/>: each (m + 2) x 6 tile of codes is transformed
    /// (int16), multiplied with U' at its positions by vpmaddwd (the GEMM of
    /// <see cref="IntWinogradRows"/>: 24 multiplies per 2x4 outputs or 36 per 4x4, against
    /// F(2x2)'s 16 per 2x2) and transformed back in int32, then divided exactly by the scale
    /// (a multiply by the inverse of its odd part modulo 2³², then a shift).
    /// <paramref name="padded"/> holds the codes at (1, 1) of an (m·⌈h/m⌉ + 2) x
    /// <paramref name="pw"/> zero image, pw ≥ 4·⌈w/4⌉ + 2.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static unsafe void WideWinogradRows(byte[] padded, int pw, QuantConvWeights w, WideWinogradWeights u, int[] acc, int accRow0, int height, int width, int r0, int r1)
    {
        int m = u.TileRows, ny = m + 2, positions = u.Positions, T = WideChunkTiles(m);
        int cin = w.InChannels, cout = w.OutChannels, tilesX = (width + 3) / 4;
        int scale = u.Scale, shift = System.Numerics.BitOperations.TrailingZeroCount(scale);
        var inverse = Vector512.Create(OddInverse(scale >> shift));
        var inScratch = stackalloc Vector512<short>[36];
        var outScratch = stackalloc Vector512<int>[24];
        // a cache line more between the positions' blocks keeps one tile's loads or stores out of a single L1 set
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
                            WideInputTile(pin + ((m * ty) * pw + 4 * (tx0 + t)) * cin, pw * cin, cin, ny, pv + t * cin, vStride, inScratch);
                        for (int t = nt; t < ntUp; t++)   // the GEMM runs four tiles at a time; these are never stored
                            for (int p = 0; p < positions; p++) new Span<short>(pv + p * vStride + t * cin, cin).Clear();
                        for (int cb = 0; cb < cout; cb += 64)
                        {
                            for (int p = 0; p < positions; p++)
                            {
                                short* up = pu + (p * (cin / 2) * cout + cb) * 2, v = pv + p * vStride;
                                int* mp = pm + p * mStride;
                                for (int t = 0; t < ntUp; t += 4) IntGemm4x64(v + t * cin, up, cin, cout, mp + t * 64);
                            }
                            for (int t = 0; t < nt; t++)
                            {
                                int x = 4 * (tx0 + t);
                                WideOutputTile(pm + t * 64, mStride, m, pacc, accRow0, y0, y1, m * ty, x, Math.Min(4, width - x), width, cb, cout, inverse, shift, outScratch);
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

    /// <summary>The inverse of an odd number modulo 2³² (Newton's iteration doubles the
    /// correct low bits each step: 3, 6, 12, 24, 48).</summary>
    static int OddInverse(int odd)
    {
        uint a = (uint)odd, x = a;
        for (int i = 0; i < 5; i++) x *= 2 - a * x;
        return (int)x;
    }

    /// <summary>V' = By d B4ᵀ of one <paramref name="ny"/> x 6 tile of codes (ny = 4 or 6), 32
    /// channels at a time: By down each of the 6 columns into <paramref name="scratch"/>
    /// (ny x 6 vectors), then B4 along each row into position (i·6 + j) of <paramref name="v"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static unsafe void WideInputTile(byte* d, int rowStride, int cin, int ny, short* v, int pStride, Vector512<short>* scratch)
    {
        for (int c = 0; c < cin; c += 32)
        {
            for (int j = 0; j < 6; j++)
            {
                byte* col = d + j * cin + c;
                Vector512<short>* s = scratch + j;
                if (ny == 4)
                {
                    // B2ᵀ: rows (0-2, 1+2, 2-1, 1-3)
                    var d0 = Widen(col); var d1 = Widen(col + rowStride); var d2 = Widen(col + 2 * rowStride); var d3 = Widen(col + 3 * rowStride);
                    s[0] = d0 - d2; s[6] = d1 + d2; s[12] = d2 - d1; s[18] = d1 - d3;
                }
                else
                    InputTransform6(Widen(col), Widen(col + rowStride), Widen(col + 2 * rowStride), Widen(col + 3 * rowStride), Widen(col + 4 * rowStride), Widen(col + 5 * rowStride),
                        out s[0], out s[6], out s[12], out s[18], out s[24], out s[30]);
            }
            for (int i = 0; i < ny; i++)
            {
                Vector512<short>* s = scratch + 6 * i;
                InputTransform6(s[0], s[1], s[2], s[3], s[4], s[5], out var e0, out var e1, out var e2, out var e3, out var e4, out var e5);
                short* o = v + 6 * i * pStride + c;
                e0.Store(o); e1.Store(o + pStride); e2.Store(o + 2 * pStride);
                e3.Store(o + 3 * pStride); e4.Store(o + 4 * pStride); e5.Store(o + 5 * pStride);
            }
        }
    }

    /// <summary>B4ᵀ of F(4, 3) on six values: rows (4, 0, −5, 0, 1, 0), (0, −4, −4, 1, 1, 0),
    /// (0, 4, −4, −1, 1, 0), (0, −2, −1, 2, 1, 0), (0, 2, −1, −2, 1, 0), (0, 4, 0, −5, 0, 1).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void InputTransform6(Vector512<short> d0, Vector512<short> d1, Vector512<short> d2, Vector512<short> d3, Vector512<short> d4, Vector512<short> d5,
        out Vector512<short> t0, out Vector512<short> t1, out Vector512<short> t2, out Vector512<short> t3, out Vector512<short> t4, out Vector512<short> t5)
    {
        var g = d1 - d3; var h = d4 - d2;
        t0 = ((d0 - d2) << 2) + h;
        t1 = d3 + d4 - ((d1 + d2) << 2);
        t2 = ((d1 - d2) << 2) + d4 - d3;
        t3 = h - (g << 1);
        t4 = h + (g << 1);
        t5 = (g << 2) + d5 - d3;
    }

    /// <summary>A4ᵀ of F(4, 3) on six values: rows (1, 1, 1, 1, 1, 0), (0, 1, −1, 2, −2, 0),
    /// (0, 1, 1, 4, 4, 0), (0, 1, −1, 8, −8, 1).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void OutputTransform6(Vector512<int> m0, Vector512<int> m1, Vector512<int> m2, Vector512<int> m3, Vector512<int> m4, Vector512<int> m5,
        out Vector512<int> y0, out Vector512<int> y1, out Vector512<int> y2, out Vector512<int> y3)
    {
        var a = m1 + m2; var b = m1 - m2; var c = m3 + m4; var e = m3 - m4;
        y0 = m0 + a + c;
        y1 = b + (e << 1);
        y2 = a + (c << 2);
        y3 = b + (e << 3) + m5;
    }

    /// <summary>(Ay M A4ᵀ) / scale of one tile for 64 output channels into the accumulator
    /// rows <paramref name="y0"/> .. <paramref name="y1"/>−1 (of the tile's
    /// <paramref name="m"/>, from <paramref name="tileY"/>) and <paramref name="cols"/> columns:
    /// Ay down each of the 6 columns into <paramref name="scratch"/> (m x 6 vectors), then A4
    /// along each needed row.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static unsafe void WideOutputTile(int* mp, int pStride, int m, int* acc, int accRow0, int y0, int y1, int tileY, int x, int cols, int width, int cb, int cout,
        Vector512<int> inverse, int shift, Vector512<int>* scratch)
    {
        for (int c = 0; c < 64; c += 16)
        {
            for (int j = 0; j < 6; j++)
            {
                int* q = mp + j * pStride + c;
                Vector512<int>* s = scratch + j;
                int rs = 6 * pStride;
                if (m == 2)
                {
                    // A2ᵀ: rows (1, 1, 1, 0), (0, 1, −1, −1)
                    var e0 = Vector512.Load(q); var e1 = Vector512.Load(q + rs); var e2 = Vector512.Load(q + 2 * rs); var e3 = Vector512.Load(q + 3 * rs);
                    s[0] = e0 + e1 + e2; s[6] = e1 - e2 - e3;
                }
                else
                    OutputTransform6(Vector512.Load(q), Vector512.Load(q + rs), Vector512.Load(q + 2 * rs), Vector512.Load(q + 3 * rs), Vector512.Load(q + 4 * rs), Vector512.Load(q + 5 * rs),
                        out s[0], out s[6], out s[12], out s[18]);
            }
            for (int y = y0; y < y1; y++)
            {
                Vector512<int>* s = scratch + 6 * (y - tileY);
                OutputTransform6(s[0], s[1], s[2], s[3], s[4], s[5], out var o0, out var o1, out var o2, out var o3);
                int* o = acc + ((long)(y - accRow0) * width + x) * cout + cb + c;
                ((o0 * inverse) >> shift).Store(o);
                if (cols > 1) ((o1 * inverse) >> shift).Store(o + cout);
                if (cols > 2) ((o2 * inverse) >> shift).Store(o + 2 * cout);
                if (cols > 3) ((o3 * inverse) >> shift).Store(o + 3 * cout);
            }
        }
    }
}
