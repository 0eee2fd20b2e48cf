using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace RefQsr.Kernels;

public static partial class QuantConv3x3
{
    /// <summary>Tiles (2x2 output pixels each) along a row that one pass of the integer
    /// Winograd path transforms and multiplies together.</summary>
    const int IntWinoChunkTiles = 16;

    /// <summary>Whether the exact integer Winograd F(2x2, 3x3) path can run these weights on
    /// any u8 activation codes. It works on scaled transforms so that everything is an integer:
    /// G' = 2G (rows (2,0,0), (1,1,1), (1,-1,1), (0,0,2)) makes U' = G' g G'ᵀ = 4·U, and the
    /// result is 4x the convolution, divided back exactly at the end. Bounds, from the sums of
    /// the transforms' absolute coefficients: |V'| = |Bᵀ d B| ≤ 4·255 and |U'| ≤ 9·|g| must fit
    /// int16 (vpmaddwd's operands), and the output transform's |Aᵀ M A| ≤ 9·cin·|V'|·|U'| must
    /// fit int32: cin ≤ 203 for 8-bit weights.</summary>
    internal static bool IntWinogradExact(int inChannels, int maxAbsWeight)
    {
        long v = 4L * 255, u = 9L * maxAbsWeight;
        return u <= short.MaxValue && 9L * inChannels * v * u <= int.MaxValue;
    }

    /// <summary>The channel counts both Winograd paths take: input transforms 32 channels at a
    /// time, GEMMs 64 output channels at a time.</summary>
    static bool WinogradShape(QuantConvWeights w) => w.InChannels % 32 == 0 && w.OutChannels % 64 == 0;

    internal static bool IntWinogradVectorizable(QuantConvWeights w)
        => WinogradShape(w) && IntWinogradExact(w.InChannels, w.MaxAbsCode);

    /// <summary>U' = G' g G'ᵀ of every (in, out) channel pair as int16, laid out
    /// [position 0..15][in / 2][out][in % 2]: one 512-bit load is 16 output channels' pairs of
    /// input channels, vpmaddwd's operand against a broadcast pair of V' values.</summary>
    internal static short[] IntWinogradWeights(QuantConvWeights w)
    {
        int cin = w.InChannels, cout = w.OutChannels;
        var oihw = w.UnpackOihw();
        var u = new short[16 * cin * cout];
        Span<int> gg = stackalloc int[12];
        for (int co = 0; co < cout; co++)
            for (int ci = 0; ci < cin; ci++)
            {
                var g = oihw.AsSpan((co * cin + ci) * 9, 9);
                for (int c = 0; c < 3; c++)   // G' g: 4x3
                {
                    int g0 = g[c], g1 = g[3 + c], g2 = g[6 + c];
                    gg[c] = 2 * g0; gg[3 + c] = g0 + g1 + g2; gg[6 + c] = g0 - g1 + g2; gg[9 + c] = 2 * g2;
                }
                for (int i = 0; i < 4; i++)   // (G' g) G'ᵀ: 4x4
                {
                    int h0 = gg[3 * i], h1 = gg[3 * i + 1], h2 = gg[3 * i + 2];
                    Span<int> row = [2 * h0, h0 + h1 + h2, h0 - h1 + h2, 2 * h2];
                    for (int j = 0; j < 4; j++)
                        u[(((4 * i + j) * (cin / 2) + ci / 2) * cout + co) * 2 + (ci & 1)] = checked((short)row[j]);
                }
            }
        return u;
    }

    /// <summary>Rows r0 .. r1−1 of the conv by integer Winograd F(2x2, 3x3): each 4x4 tile of
    /// codes is transformed (Bᵀ d B, int16), multiplied with U' at its 16 positions by vpmaddwd
    /// (16 multiplies per 2x2 outputs and channel pair instead of 36) and transformed back
    /// (Aᵀ M A, int32, then / 4). Exact: every intermediate stays inside the bounds of
    /// <see cref="IntWinogradExact"/>, so the sums equal the direct ones bit for bit.
    /// <paramref name="padded"/> holds the codes at (1, 1) of a (2·⌈h/2⌉ + 2) x
    /// <paramref name="pw"/> zero image.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static unsafe void IntWinogradRows(byte[] padded, int pw, QuantConvWeights w, short[] u, int[] acc, int accRow0, int height, int width, int r0, int r1)
    {
        const int T = IntWinoChunkTiles;
        int cin = w.InChannels, cout = w.OutChannels, tilesX = (width + 1) / 2;
        // a cache line more between the 16 positions' blocks keeps one tile's 16 loads or
        // stores out of a single L1 set
        int vStride = T * cin + 32, mStride = T * 64 + 16;
        short[] vBuf = ArrayPool<short>.Shared.Rent(16 * vStride);
        int[] mBuf = ArrayPool<int>.Shared.Rent(16 * mStride);
        try
        {
            fixed (byte* pin = padded)
            fixed (short* pu = u, pv = vBuf)
            fixed (int* pm = mBuf, pacc = acc)
                for (int ty = r0 / 2; 2 * ty < r1; ty++)
                {
                    int y0 = Math.Max(r0, 2 * ty), y1 = Math.Min(Math.Min(r1, height), 2 * ty + 2);
                    for (int tx0 = 0; tx0 < tilesX; tx0 += T)
                    {
                        int nt = Math.Min(T, tilesX - tx0), ntUp = (nt + 3) & ~3;
                        for (int t = 0; t < nt; t++)
                            InputTile(pin + ((2 * ty) * pw + 2 * (tx0 + t)) * cin, pw * cin, cin, new ShortTileStore(pv + t * cin, vStride));
                        for (int t = nt; t < ntUp; t++)   // the GEMM runs four tiles at a time; these are never stored
                            for (int p = 0; p < 16; p++) new Span<short>(pv + p * vStride + t * cin, cin).Clear();
                        for (int cb = 0; cb < cout; cb += 64)
                        {
                            for (int p = 0; p < 16; p++)
                            {
                                short* up = pu + (p * (cin / 2) * cout + cb) * 2, v = pv + p * vStride;
                                int* m = pm + p * mStride;
                                for (int t = 0; t < ntUp; t += 4) IntGemm4x64(v + t * cin, up, cin, cout, m + t * 64);
                            }
                            for (int t = 0; t < nt; t++)
                            {
                                int x = 2 * (tx0 + t);
                                OutputTile(pm + t * 64, mStride, pacc, accRow0, y0, y1, 2 * ty, x, Math.Min(2, width - x), width, cb, cout, null);
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

    /// <summary>Where <see cref="InputTile"/> puts a tile's 16 transformed vectors: int16 as
    /// they are, or shifted to unsigned bytes (the byte path).</summary>
    interface ITileStore
    {
        /// <summary>V'[position] for channels c .. c+31.</summary>
        unsafe void Store(int position, int c, Vector512<short> value);
    }

    unsafe readonly struct ShortTileStore(short* v, int pStride) : ITileStore
    {
        public void Store(int position, int c, Vector512<short> value) => value.Store(v + position * pStride + c);
    }

    /// <summary>V' + offset as bytes (vpmovwb): every value is in [0, 255] under
    /// <see cref="ByteWinogradSteps"/>.</summary>
    unsafe readonly struct ByteTileStore(byte* v, int pStride, short offset) : ITileStore
    {
        readonly Vector512<short> off = Vector512.Create(offset);
        public void Store(int position, int c, Vector512<short> value) => Avx512BW.ConvertToVector256Byte(value + off).Store(v + position * pStride + c);
    }

    /// <summary>V' = Bᵀ d B of one 4x4 tile of codes, 32 channels at a time, widened to int16
    /// (|V'| ≤ 4·255).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static unsafe void InputTile<TStore>(byte* d, int rowStride, int cin, TStore store) where TStore : struct, ITileStore
    {
        for (int c = 0; c < cin; c += 32)
        {
            byte* r0 = d + c, r1 = r0 + rowStride, r2 = r1 + rowStride, r3 = r2 + rowStride;
            var d00 = Widen(r0); var d01 = Widen(r0 + cin); var d02 = Widen(r0 + 2 * cin); var d03 = Widen(r0 + 3 * cin);
            var d10 = Widen(r1); var d11 = Widen(r1 + cin); var d12 = Widen(r1 + 2 * cin); var d13 = Widen(r1 + 3 * cin);
            var d20 = Widen(r2); var d21 = Widen(r2 + cin); var d22 = Widen(r2 + 2 * cin); var d23 = Widen(r2 + 3 * cin);
            var d30 = Widen(r3); var d31 = Widen(r3 + cin); var d32 = Widen(r3 + 2 * cin); var d33 = Widen(r3 + 3 * cin);
            // Bᵀ d combines rows (0-2, 1+2, 2-1, 1-3); InputRow does the same to the columns
            InputRow(store, 0, c, d00 - d20, d01 - d21, d02 - d22, d03 - d23);
            InputRow(store, 4, c, d10 + d20, d11 + d21, d12 + d22, d13 + d23);
            InputRow(store, 8, c, d20 - d10, d21 - d11, d22 - d12, d23 - d13);
            InputRow(store, 12, c, d10 - d30, d11 - d31, d12 - d32, d13 - d33);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static unsafe Vector512<short> Widen(byte* p) => Avx512BW.ConvertToVector512Int16(Vector256.Load(p));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void InputRow<TStore>(TStore store, int p, int c, Vector512<short> t0, Vector512<short> t1, Vector512<short> t2, Vector512<short> t3)
        where TStore : struct, ITileStore
    {
        store.Store(p, c, t0 - t2); store.Store(p + 1, c, t1 + t2);
        store.Store(p + 2, c, t2 - t1); store.Store(p + 3, c, t1 - t3);
    }

    /// <summary>Four tiles' products at one of the 16 positions for 64 output channels:
    /// M[t][co] = Σ_ci V'[t][ci]·U'[ci][co], by vpmaddwd of a broadcast pair of V' values
    /// against 16 output channels' pairs of U'. 16 int32 accumulators.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static unsafe void IntGemm4x64(short* v, short* u, int cin, int cout, int* m)
    {
        Vector512<int> a0 = default, a1 = default, a2 = default, a3 = default;
        Vector512<int> b0 = default, b1 = default, b2 = default, b3 = default;
        Vector512<int> c0 = default, c1 = default, c2 = default, c3 = default;
        Vector512<int> e0 = default, e1 = default, e2 = default, e3 = default;
        int* va = (int*)v, vb = (int*)(v + cin), vc = (int*)(v + 2 * cin), ve = (int*)(v + 3 * cin);
        for (int cp = 0; cp < cin / 2; cp++, u += 2 * cout)
        {
            var w0 = Vector512.Load(u); var w1 = Vector512.Load(u + 32);
            var w2 = Vector512.Load(u + 64); var w3 = Vector512.Load(u + 96);
            var x = Vector512.Create(va[cp]).AsInt16();
            a0 += Avx512BW.MultiplyAddAdjacent(x, w0); a1 += Avx512BW.MultiplyAddAdjacent(x, w1);
            a2 += Avx512BW.MultiplyAddAdjacent(x, w2); a3 += Avx512BW.MultiplyAddAdjacent(x, w3);
            x = Vector512.Create(vb[cp]).AsInt16();
            b0 += Avx512BW.MultiplyAddAdjacent(x, w0); b1 += Avx512BW.MultiplyAddAdjacent(x, w1);
            b2 += Avx512BW.MultiplyAddAdjacent(x, w2); b3 += Avx512BW.MultiplyAddAdjacent(x, w3);
            x = Vector512.Create(vc[cp]).AsInt16();
            c0 += Avx512BW.MultiplyAddAdjacent(x, w0); c1 += Avx512BW.MultiplyAddAdjacent(x, w1);
            c2 += Avx512BW.MultiplyAddAdjacent(x, w2); c3 += Avx512BW.MultiplyAddAdjacent(x, w3);
            x = Vector512.Create(ve[cp]).AsInt16();
            e0 += Avx512BW.MultiplyAddAdjacent(x, w0); e1 += Avx512BW.MultiplyAddAdjacent(x, w1);
            e2 += Avx512BW.MultiplyAddAdjacent(x, w2); e3 += Avx512BW.MultiplyAddAdjacent(x, w3);
        }
        a0.Store(m); a1.Store(m + 16); a2.Store(m + 32); a3.Store(m + 48);
        b0.Store(m + 64); b1.Store(m + 80); b2.Store(m + 96); b3.Store(m + 112);
        c0.Store(m + 128); c1.Store(m + 144); c2.Store(m + 160); c3.Store(m + 176);
        e0.Store(m + 192); e1.Store(m + 208); e2.Store(m + 224); e3.Store(m + 240);
    }

    /// <summary>(Aᵀ M A − corr) / 4 of one tile for 64 output channels into the accumulator
    /// rows <paramref name="y0"/> .. <paramref name="y1"/>−1 (of the tile's two, from
    /// <paramref name="tileY"/>) and <paramref name="cols"/> columns. <paramref name="corr"/>
    /// (the byte path's offset share, [position i·2 + j][out]) may be null.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static unsafe void OutputTile(int* m, int pStride, int* acc, int accRow0, int y0, int y1, int tileY, int x, int cols, int width, int cb, int cout, int* corr)
    {
        for (int c = 0; c < 64; c += 16)
        {
            int* q = m + c;
            var a0 = Vector512.Load(q); var a1 = Vector512.Load(q + pStride); var a2 = Vector512.Load(q + 2 * pStride); var a3 = Vector512.Load(q + 3 * pStride);
            var b0 = Vector512.Load(q + 4 * pStride); var b1 = Vector512.Load(q + 5 * pStride); var b2 = Vector512.Load(q + 6 * pStride); var b3 = Vector512.Load(q + 7 * pStride);
            var c0 = Vector512.Load(q + 8 * pStride); var c1 = Vector512.Load(q + 9 * pStride); var c2 = Vector512.Load(q + 10 * pStride); var c3 = Vector512.Load(q + 11 * pStride);
            var e0 = Vector512.Load(q + 12 * pStride); var e1 = Vector512.Load(q + 13 * pStride); var e2 = Vector512.Load(q + 14 * pStride); var e3 = Vector512.Load(q + 15 * pStride);
            for (int y = y0; y < y1; y++)
            {
                // Aᵀ along the tile's rows: row 0 = m0 + m1 + m2, row 1 = m1 - m2 - m3; then A along its columns
                int i = y - tileY;
                Vector512<int> s0, s1, s2, s3;
                if (i == 0) { s0 = a0 + b0 + c0; s1 = a1 + b1 + c1; s2 = a2 + b2 + c2; s3 = a3 + b3 + c3; }
                else { s0 = b0 - c0 - e0; s1 = b1 - c1 - e1; s2 = b2 - c2 - e2; s3 = b3 - c3 - e3; }
                Vector512<int> k0 = default, k1 = default;
                if (corr != null)
                {
                    int* k = corr + 2 * i * cout + cb + c;
                    k0 = Vector512.Load(k); k1 = Vector512.Load(k + cout);
                }
                int* o = acc + ((long)(y - accRow0) * width + x) * cout + cb + c;
                Avx512F.ShiftRightArithmetic(s0 + s1 + s2 - k0, 2).Store(o);
                if (cols > 1) Avx512F.ShiftRightArithmetic(s1 - s2 - s3 - k1, 2).Store(o + cout);
            }
        }
    }
}
