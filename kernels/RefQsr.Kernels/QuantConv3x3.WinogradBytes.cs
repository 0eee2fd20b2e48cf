using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace RefQsr.Kernels;

public static partial class QuantConv3x3
{
    /// <summary>The transformed weights of the byte Winograd path: U' as signed bytes laid out
    /// [position][in / 4][out][in % 4] (one 512-bit load is 16 output channels' quads, the
    /// operand of vpmaddubsw against a broadcast quad of V' bytes), and per position and
    /// output channel Σ_in U' (for the offset that makes V' unsigned).</summary>
    internal sealed class ByteWinogradWeights(sbyte[] quads, int[] sums, int maxAbs)
    {
        public sbyte[] Quads { get; } = quads;
        public int[] Sums { get; } = sums;
        /// <summary>max |U'|.</summary>
        public int MaxAbs { get; } = maxAbs;
        public long Bytes => Quads.Length + 4L * Sums.Length;
    }

    /// <summary>Int16 steps of the byte Winograd path for activation codes up to
    /// <paramref name="maxActivation"/> and transformed weights up to |<paramref name="maxU"/>|,
    /// or 0 where it cannot run. V' = Bᵀ d B lies in [−2A, 4A] for codes in [0, A]; shifted by
    /// 2A it is a byte when 6A ≤ 255, the unsigned operand of vpmaddubsw, whose other operand
    /// U' must be a signed byte. Each vpmaddubsw result is at most 2·6A·|U'| and k of them are
    /// summed in int16 before widening: k·2·6A·|U'| ≤ 32767. The int32 sums stay far below
    /// their bound (9·cin·2·6A·|U'| for the output transform).</summary>
    internal static int ByteWinogradSteps(int maxActivation, int maxU, int inChannels)
    {
        long span = 6L * maxActivation;
        if (span > 255 || maxU > 127) return 0;
        long perStep = 2 * span * maxU;
        if (perStep == 0) return int.MaxValue;
        if (9L * inChannels * perStep > int.MaxValue) return 0;
        return (int)(32767 / perStep);
    }

    /// <summary>U' = G' g G'ᵀ as bytes where every value fits (null where one does not).</summary>
    internal static ByteWinogradWeights? ByteWinogradWeightsFor(QuantConvWeights w)
    {
        int cin = w.InChannels, cout = w.OutChannels;
        var u = IntWinogradWeights(w);   // [p][in / 2][out][in % 2], int16; not kept: this path reads only the bytes
        var quads = new sbyte[16 * cin * cout];
        var sums = new int[16 * cout];
        int maxAbs = 0;
        for (int p = 0; p < 16; p++)
            for (int ci = 0; ci < cin; ci++)
                for (int co = 0; co < cout; co++)
                {
                    int v = u[((p * (cin / 2) + ci / 2) * cout + co) * 2 + (ci & 1)];
                    if (v < -128 || v > 127) return null;
                    maxAbs = Math.Max(maxAbs, Math.Abs(v));
                    quads[((p * (cin / 4) + ci / 4) * cout + co) * 4 + (ci & 3)] = (sbyte)v;
                    sums[p * cout + co] += v;
                }
        return new ByteWinogradWeights(quads, sums, maxAbs);
    }

    /// <summary>As <see cref="IntWinogradRows"/> with byte operands: V' + 2A as unsigned bytes,
    /// U' as signed bytes, vpmaddubsw (64 products per multiply instead of vpmaddwd's 32) summed
    /// in int16 for <paramref name="steps"/> quads of input channels, then widened. The offset's
    /// contribution, 2A·Aᵀ(Σ_in U')A, is one constant per output channel and tile position,
    /// subtracted before the division by 4. Exact under <see cref="ByteWinogradSteps"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static unsafe void ByteWinogradRows(byte[] padded, int pw, QuantConvWeights w, ByteWinogradWeights u, int offset, int steps,
        int[] acc, int accRow0, int height, int width, int r0, int r1, bool vnni)
    {
        // tiles per pass: the vpmaddubsw GEMM takes 2 at a time, the VNNI one (VnniGemm6x16) 6
        int T = vnni ? 3 * VnniTilePixels : IntWinoChunkTiles, group = vnni ? VnniTilePixels : 2;
        int cin = w.InChannels, cout = w.OutChannels, tilesX = (width + 1) / 2;
        int vStride = T * cin + 64, mStride = T * 64 + 16;
        byte[] vBuf = ArrayPool<byte>.Shared.Rent(16 * vStride);
        int[] mBuf = ArrayPool<int>.Shared.Rent(16 * mStride);
        // the offset's share of each output position (Aᵀ (2A·Σ U') A), per output channel
        int[] corr = ArrayPool<int>.Shared.Rent(4 * cout);
        try
        {
            OffsetCorrections(u.Sums, offset, cout, corr);
            fixed (byte* pin = padded, pv = vBuf)
            fixed (sbyte* pu = u.Quads)
            fixed (int* pm = mBuf, pacc = acc, pc = corr)
                for (int ty = r0 / 2; 2 * ty < r1; ty++)
                {
                    int y0 = Math.Max(r0, 2 * ty), y1 = Math.Min(Math.Min(r1, height), 2 * ty + 2);
                    for (int tx0 = 0; tx0 < tilesX; tx0 += T)
                    {
                        int nt = Math.Min(T, tilesX - tx0), ntUp = (nt + group - 1) / group * group;
                        for (int t = 0; t < nt; t++)
                            InputTile(pin + ((2 * ty) * pw + 2 * (tx0 + t)) * cin, pw * cin, cin, new ByteTileStore(pv + t * cin, vStride, (short)offset));
                        for (int t = nt; t < ntUp; t++)   // the GEMM runs whole groups of tiles; these are never stored
                            for (int p = 0; p < 16; p++) new Span<byte>(pv + p * vStride + t * cin, cin).Clear();
                        for (int cb = 0; cb < cout; cb += 64)
                        {
                            for (int p = 0; p < 16; p++)
                            {
                                sbyte* up = pu + (p * (cin / 4) * cout + cb) * 4;
                                byte* v = pv + p * vStride;
                                int* m = pm + p * mStride;
                                if (!vnni)
                                    for (int t = 0; t < ntUp; t += 2) ByteGemm2x64(v + t * cin, up, cin, cout, steps, m + t * 64);
                                else
                                    for (int t = 0; t < ntUp; t += VnniTilePixels)
                                        for (int c = 0; c < 64; c += 16)
                                            VnniGemm6x16(v + t * cin, null, null, 1, cin, up + c * 4, cin / 4, cout, m + t * 64 + c);
                            }
                            for (int t = 0; t < nt; t++)
                            {
                                int x = 2 * (tx0 + t);
                                OutputTile(pm + t * 64, mStride, pacc, accRow0, y0, y1, 2 * ty, x, Math.Min(2, width - x), width, cb, cout, pc);
                            }
                        }
                    }
                }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(vBuf);
            ArrayPool<int>.Shared.Return(mBuf);
            ArrayPool<int>.Shared.Return(corr);
        }
    }

    /// <summary>corr[i·2 + j][co] = (Aᵀ C A)[i][j] for C[p] = offset·Σ_in U'[p][in][co].</summary>
    static void OffsetCorrections(int[] sums, int offset, int cout, int[] corr)
    {
        Span<int> t = stackalloc int[8];
        for (int co = 0; co < cout; co++)
        {
            // Aᵀ along the tile's rows (row 0 = m0 + m1 + m2, row 1 = m1 - m2 - m3), then A along its columns
            for (int j = 0; j < 4; j++)
            {
                int m0 = offset * sums[j * cout + co], m1 = offset * sums[(4 + j) * cout + co];
                int m2 = offset * sums[(8 + j) * cout + co], m3 = offset * sums[(12 + j) * cout + co];
                t[j] = m0 + m1 + m2; t[4 + j] = m1 - m2 - m3;
            }
            for (int i = 0; i < 2; i++)
            {
                corr[(2 * i) * cout + co] = t[4 * i] + t[4 * i + 1] + t[4 * i + 2];
                corr[(2 * i + 1) * cout + co] = t[4 * i + 1] - t[4 * i + 2] - t[4 * i + 3];
            }
        }
    }

    /// <summary>Two tiles' products at one position for 64 output channels: vpmaddubsw of a
    /// broadcast quad of V' bytes against 16 output channels' quads of U', summed in int16 for
    /// up to <paramref name="steps"/> quads, then widened by vpmaddwd(·, 1) into int32. Eight
    /// int16 and eight int32 accumulators stay in registers.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static unsafe void ByteGemm2x64(byte* v, sbyte* u, int cin, int cout, int steps, int* m)
    {
        var ones = Vector512.Create((short)1);
        Vector512<int> a0 = default, a1 = default, a2 = default, a3 = default;
        Vector512<int> b0 = default, b1 = default, b2 = default, b3 = default;
        int* va = (int*)v, vb = (int*)(v + cin);
        int quads = cin / 4;
        for (int q0 = 0; q0 < quads; q0 += steps)
        {
            int q1 = Math.Min(quads, q0 + steps);
            Vector512<short> ha0 = default, ha1 = default, ha2 = default, ha3 = default;
            Vector512<short> hb0 = default, hb1 = default, hb2 = default, hb3 = default;
            sbyte* uq = u + q0 * 4 * cout;
            for (int q = q0; q < q1; q++, uq += 4 * cout)
            {
                var w0 = Vector512.Load(uq); var w1 = Vector512.Load(uq + 64);
                var w2 = Vector512.Load(uq + 128); var w3 = Vector512.Load(uq + 192);
                var x = Vector512.Create(va[q]).AsByte();
                ha0 += Avx512BW.MultiplyAddAdjacent(x, w0); ha1 += Avx512BW.MultiplyAddAdjacent(x, w1);
                ha2 += Avx512BW.MultiplyAddAdjacent(x, w2); ha3 += Avx512BW.MultiplyAddAdjacent(x, w3);
                x = Vector512.Create(vb[q]).AsByte();
                hb0 += Avx512BW.MultiplyAddAdjacent(x, w0); hb1 += Avx512BW.MultiplyAddAdjacent(x, w1);
                hb2 += Avx512BW.MultiplyAddAdjacent(x, w2); hb3 += Avx512BW.MultiplyAddAdjacent(x, w3);
            }
            a0 += Avx512BW.MultiplyAddAdjacent(ha0, ones); a1 += Avx512BW.MultiplyAddAdjacent(ha1, ones);
            a2 += Avx512BW.MultiplyAddAdjacent(ha2, ones); a3 += Avx512BW.MultiplyAddAdjacent(ha3, ones);
            b0 += Avx512BW.MultiplyAddAdjacent(hb0, ones); b1 += Avx512BW.MultiplyAddAdjacent(hb1, ones);
            b2 += Avx512BW.MultiplyAddAdjacent(hb2, ones); b3 += Avx512BW.MultiplyAddAdjacent(hb3, ones);
        }
        a0.Store(m); a1.Store(m + 16); a2.Store(m + 32); a3.Store(m + 48);
        b0.Store(m + 64); b1.Store(m + 80); b2.Store(m + 96); b3.Store(m + 112);
    }
}
