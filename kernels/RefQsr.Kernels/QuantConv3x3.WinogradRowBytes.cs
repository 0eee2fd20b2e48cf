using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace RefQsr.Kernels;

public static partial class QuantConv3x3
{
    /// <summary>The transformed weights of the row Winograd path, F(2, 3) along x only:
    /// U' = G' g_ky for each kernel row ky (G' = 2G, rows (2,0,0), (1,1,1), (1,−1,1), (0,0,2)),
    /// as signed bytes laid out [position 0..3][ky][in / 4][out][in % 4] so that one position's
    /// reduction runs over (ky, input quad) in one stream; per position and output channel
    /// Σ U' (for the offsets that make V' unsigned); and the step table that bounds the
    /// int16 sums by the actual weights (<see cref="Steps"/>).</summary>
    internal sealed class RowWinogradWeights
    {
        public sbyte[] Quads { get; }
        public int[] Sums { get; }
        /// <summary>RunMax[k]: the largest Σ|U'| that one int16 lane (an output channel's
        /// pair of input channels) sums over a run of k quads, the runs aligned at multiples of
        /// k from the start of a position's reduction, over every position, lane and run.</summary>
        readonly int[] runMax;
        public int MaxAbs { get; }
        public long Bytes => Quads.Length + 4L * (Sums.Length + runMax.Length);

        public RowWinogradWeights(sbyte[] quads, int[] sums, int maxAbs, int[] runMax) => (Quads, Sums, MaxAbs, this.runMax) = (quads, sums, maxAbs, runMax);

        /// <summary>How many quads of vpmaddubsw results this path can sum in int16 before
        /// widening, for activation codes up to <paramref name="maxActivation"/>; 0 where it
        /// cannot run. V' lies in [0, 2A] after its offsets (the unsigned operand must be a
        /// byte: 2A ≤ 255), so a run of k quads sums at most 2A·RunMax[k] in one lane, which
        /// must stay within ±32767. The int32 sums (at most 3·2A·Σ|U'| over a position) are
        /// checked when the weights are made.</summary>
        public int Steps(int maxActivation)
        {
            long span = 2L * maxActivation;
            if (span > 255) return 0;
            int best = 0;
            for (int k = 1; k < runMax.Length; k++)
                if (span * runMax[k] <= short.MaxValue) best = k;
            return best;
        }
    }

    /// <summary>U' = G' g_ky as bytes where every value fits and the int32 sums stay exact for
    /// any 7-bit activations (null where they do not).</summary>
    internal static RowWinogradWeights? RowWinogradWeightsFor(QuantConvWeights w)
    {
        int cin = w.InChannels, cout = w.OutChannels, quads = cin / 4, total = 3 * quads;
        var oihw = w.UnpackOihw();
        var u = new sbyte[4 * 3 * cin * cout];
        var sums = new int[4 * cout];
        int maxAbs = 0;
        for (int co = 0; co < cout; co++)
            for (int ci = 0; ci < cin; ci++)
                for (int ky = 0; ky < 3; ky++)
                {
                    int g0 = oihw[(co * cin + ci) * 9 + 3 * ky], g1 = oihw[(co * cin + ci) * 9 + 3 * ky + 1], g2 = oihw[(co * cin + ci) * 9 + 3 * ky + 2];
                    Span<int> t = [2 * g0, g0 + g1 + g2, g0 - g1 + g2, 2 * g2];
                    for (int p = 0; p < 4; p++)
                    {
                        if (t[p] is < -128 or > 127) return null;
                        maxAbs = Math.Max(maxAbs, Math.Abs(t[p]));
                        u[RowWinogradIndex(p, ky * quads + ci / 4, co, ci & 3, total, cout)] = (sbyte)t[p];
                        sums[p * cout + co] += t[p];
                    }
                }
        // the int32 bound: |M| ≤ 2·127·Σ|U'| per position, and an output adds three positions
        if (3L * 2 * 127 * 3 * cin * maxAbs > int.MaxValue) return null;
        var runMax = new int[total + 1];
        for (int k = 1; k <= total; k++)
            for (int p = 0; p < 4; p++)
                for (int co = 0; co < cout; co++)
                    for (int lane = 0; lane < 2; lane++)
                        for (int k0 = 0; k0 < total; k0 += k)
                        {
                            int s = 0;
                            for (int q = k0; q < Math.Min(total, k0 + k); q++)
                            {
                                int i = RowWinogradIndex(p, q, co, 2 * lane, total, cout);
                                s += Math.Abs((int)u[i]) + Math.Abs((int)u[i + 1]);
                            }
                            runMax[k] = Math.Max(runMax[k], s);
                        }
        return new RowWinogradWeights(u, sums, maxAbs, runMax);
    }

    static int RowWinogradIndex(int p, int quad, int co, int lane, int total, int cout) => ((p * total + quad) * cout + co) * 4 + lane;

    /// <summary>Rows r0 .. r1−1 of the conv by exact integer Winograd F(2, 3) along each row:
    /// every padded input row is transformed once per call (4 values per pair of output
    /// columns, Bᵀ d with offsets (A, 0, A, A) that make them unsigned bytes in [0, 2A]), then
    /// for each output row the three kernel rows' transformed inputs are multiplied with U' by
    /// vpmaddubsw (12 multiplies per 2 outputs and input channel instead of 18), summed in
    /// int16 for <paramref name="steps"/> quads, and transformed back (Aᵀ M, minus the offsets'
    /// share, then / 2). <paramref name="padded"/> holds the codes at (1, 1) of a (h + 2) x
    /// <paramref name="pw"/> zero image, pw = 2·⌈w/2⌉ + 2.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static unsafe void RowWinogradRows(byte[] padded, int pw, QuantConvWeights w, RowWinogradWeights u, int offset, int steps,
        int[] acc, int accRow0, int width, int r0, int r1, bool vnni)
    {
        // tiles per pass: the vpmaddubsw GEMM takes 4 at a time, the VNNI one 6
        int T = vnni ? 3 * VnniTilePixels : IntWinoChunkTiles, group = vnni ? VnniTilePixels : 4;
        int cin = w.InChannels, cout = w.OutChannels, quads = cin / 4, total = 3 * quads;
        int tilesX = (width + 1) / 2, tilesUp = (tilesX + group - 1) / group * group;
        int rowBytes = tilesUp * 4 * cin, mStride = T * 64 + 16;
        byte[] ring = ArrayPool<byte>.Shared.Rent(3 * rowBytes);
        int[] mBuf = ArrayPool<int>.Shared.Rent(4 * mStride);
        int[] corr = ArrayPool<int>.Shared.Rent(2 * cout);
        try
        {
            // the offsets' share of each output column: (A·S0 + A·S2) and −(A·S2 + A·S3)
            for (int co = 0; co < cout; co++)
            {
                corr[co] = offset * (u.Sums[co] + u.Sums[2 * cout + co]);
                corr[cout + co] = -offset * (u.Sums[2 * cout + co] + u.Sums[3 * cout + co]);
            }
            // the GEMM runs four tiles at a time; tiles past the row's end are zero and never stored
            new Span<byte>(ring, 0, 3 * rowBytes).Clear();
            fixed (byte* pin = padded, pr = ring)
            fixed (sbyte* pu = u.Quads)
            fixed (int* pm = mBuf, pacc = acc, pc = corr)
            {
                RowInputTransform(pin + r0 * pw * cin, pr + (r0 % 3) * rowBytes, tilesX, cin, (byte)offset);
                RowInputTransform(pin + (r0 + 1) * pw * cin, pr + ((r0 + 1) % 3) * rowBytes, tilesX, cin, (byte)offset);
                for (int y = r0; y < r1; y++)
                {
                    RowInputTransform(pin + (y + 2) * pw * cin, pr + ((y + 2) % 3) * rowBytes, tilesX, cin, (byte)offset);
                    byte* v0 = pr + (y % 3) * rowBytes, v1 = pr + ((y + 1) % 3) * rowBytes, v2 = pr + ((y + 2) % 3) * rowBytes;
                    for (int tx0 = 0; tx0 < tilesX; tx0 += T)
                    {
                        int nt = Math.Min(T, tilesX - tx0), ntUp = (nt + group - 1) / group * group;
                        for (int cb = 0; cb < cout; cb += 64)
                        {
                            for (int p = 0; p < 4; p++)
                            {
                                long vo = (long)(tx0 * 4 + p) * cin;
                                sbyte* up = pu + ((long)p * total * cout + cb) * 4;
                                for (int t = 0; t < ntUp; t += group)
                                {
                                    long to = vo + (long)t * 4 * cin;
                                    if (!vnni) RowGemm4x64(v0 + to, v1 + to, v2 + to, 4 * cin, up, quads, cout, steps, pm + p * mStride + t * 64);
                                    else
                                        for (int c = 0; c < 64; c += 16)
                                            VnniGemm6x16(v0 + to, v1 + to, v2 + to, 3, 4 * cin, up + c * 4, quads, cout, pm + p * mStride + t * 64 + c);
                                }
                            }
                            for (int t = 0; t < nt; t++)
                            {
                                int x = 2 * (tx0 + t);
                                RowOutputTile(pm + t * 64, mStride, pacc + ((long)(y - accRow0) * width + x) * cout + cb, Math.Min(2, width - x), cout, pc + cb);
                            }
                        }
                    }
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(ring);
            ArrayPool<int>.Shared.Return(mBuf);
            ArrayPool<int>.Shared.Return(corr);
        }
    }

    /// <summary>One padded row's transformed tiles, [tile][position][in]: for the four codes
    /// d0..d3 at columns 2t .. 2t+3, (d0 + A) − d2, d1 + d2, (d2 + A) − d1, (d1 + A) − d3, all
    /// in [0, 2A] and computed in bytes without wrapping.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static unsafe void RowInputTransform(byte* row, byte* v, int tiles, int cin, byte offset)
    {
        var a = Vector256.Create(offset);
        for (int t = 0; t < tiles; t++)
        {
            byte* d = row + 2 * t * cin;
            byte* o = v + t * 4 * cin;
            for (int c = 0; c < cin; c += 32)
            {
                var d0 = Vector256.Load(d + c); var d1 = Vector256.Load(d + cin + c);
                var d2 = Vector256.Load(d + 2 * cin + c); var d3 = Vector256.Load(d + 3 * cin + c);
                (d0 + a - d2).Store(o + c);
                (d1 + d2).Store(o + cin + c);
                (d2 + a - d1).Store(o + 2 * cin + c);
                (d1 + a - d3).Store(o + 3 * cin + c);
            }
        }
    }

    /// <summary>Four tiles' products at one position for 64 output channels, over the three
    /// kernel rows (<paramref name="v0"/> .. <paramref name="v2"/>, tiles
    /// <paramref name="tileStride"/> bytes apart) and every input quad: vpmaddubsw of a
    /// broadcast quad of V' against 16 output channels' quads of U', summed in int16 for
    /// <paramref name="steps"/> quads (a run may cross kernel rows), then widened by
    /// vpmaddwd(·, 1) into <paramref name="m"/> (tiles 64 ints apart).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static unsafe void RowGemm4x64(byte* v0, byte* v1, byte* v2, int tileStride, sbyte* u, int quads, int cout, int steps, int* m)
    {
        var ones = Vector512.Create((short)1);
        int total = 3 * quads;
        for (int k0 = 0; k0 < total; k0 += steps)
        {
            Vector512<short> s00 = default, s01 = default, s02 = default, s03 = default;
            Vector512<short> s10 = default, s11 = default, s12 = default, s13 = default;
            Vector512<short> s20 = default, s21 = default, s22 = default, s23 = default;
            Vector512<short> s30 = default, s31 = default, s32 = default, s33 = default;
            int k1 = Math.Min(total, k0 + steps);
            for (int k = k0; k < k1;)
            {
                int ky = k / quads, q0 = k - ky * quads, q1 = Math.Min(quads, q0 + k1 - k);
                byte* vr = ky == 0 ? v0 : ky == 1 ? v1 : v2;
                sbyte* wq = u + (long)k * cout * 4;
                for (int q = q0; q < q1; q++, wq += cout * 4)
                {
                    var w0 = Vector512.Load(wq); var w1 = Vector512.Load(wq + 64);
                    var w2 = Vector512.Load(wq + 128); var w3 = Vector512.Load(wq + 192);
                    byte* a = vr + q * 4;
                    var b = Vector512.Create(*(int*)a).AsByte();
                    s00 += Avx512BW.MultiplyAddAdjacent(b, w0); s01 += Avx512BW.MultiplyAddAdjacent(b, w1);
                    s02 += Avx512BW.MultiplyAddAdjacent(b, w2); s03 += Avx512BW.MultiplyAddAdjacent(b, w3);
                    b = Vector512.Create(*(int*)(a + tileStride)).AsByte();
                    s10 += Avx512BW.MultiplyAddAdjacent(b, w0); s11 += Avx512BW.MultiplyAddAdjacent(b, w1);
                    s12 += Avx512BW.MultiplyAddAdjacent(b, w2); s13 += Avx512BW.MultiplyAddAdjacent(b, w3);
                    b = Vector512.Create(*(int*)(a + 2 * tileStride)).AsByte();
                    s20 += Avx512BW.MultiplyAddAdjacent(b, w0); s21 += Avx512BW.MultiplyAddAdjacent(b, w1);
                    s22 += Avx512BW.MultiplyAddAdjacent(b, w2); s23 += Avx512BW.MultiplyAddAdjacent(b, w3);
                    b = Vector512.Create(*(int*)(a + 3 * tileStride)).AsByte();
                    s30 += Avx512BW.MultiplyAddAdjacent(b, w0); s31 += Avx512BW.MultiplyAddAdjacent(b, w1);
                    s32 += Avx512BW.MultiplyAddAdjacent(b, w2); s33 += Avx512BW.MultiplyAddAdjacent(b, w3);
                }
                k = ky * quads + q1;
            }
            bool first = k0 == 0;
            Widen(m, first, s00, s01, s02, s03, ones);
            Widen(m + 64, first, s10, s11, s12, s13, ones);
            Widen(m + 128, first, s20, s21, s22, s23, ones);
            Widen(m + 192, first, s30, s31, s32, s33, ones);
        }
    }

    /// <summary>(Aᵀ M − corr) / 2 of one 1x2 tile for 64 output channels: column 0 = m0 + m1 + m2,
    /// column 1 = m1 − m2 − m3.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static unsafe void RowOutputTile(int* m, int pStride, int* o, int cols, int cout, int* corr)
    {
        for (int c = 0; c < 64; c += 16)
        {
            var m0 = Vector512.Load(m + c); var m1 = Vector512.Load(m + pStride + c);
            var m2 = Vector512.Load(m + 2 * pStride + c); var m3 = Vector512.Load(m + 3 * pStride + c);
            Avx512F.ShiftRightArithmetic(m0 + m1 + m2 - Vector512.Load(corr + c), 1).Store(o + c);
            if (cols > 1) Avx512F.ShiftRightArithmetic(m1 - m2 - m3 - Vector512.Load(corr + cout + c), 1).Store(o + cout + c);
        }
    }
}
