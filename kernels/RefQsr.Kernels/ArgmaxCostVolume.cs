using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using System.Runtime.InteropServices;

namespace RefQsr.Kernels;

/// <summary>RefER's matching step (docs/refqsr.md step 4): for every pooled query position
/// i, the reference position j' maximising E(i, j') = Σ_c q(i, c)·r(j', c) over signed
/// int8 codes, ties to the lowest j'. The dot products and the running argmax are fused,
/// so the nq x nr cost volume never exists. Exact integer arithmetic: every path and
/// every thread count gives the same indices.</summary>
public static class ArgmaxCostVolume
{
    /// <summary>The scalar truth. <paramref name="query"/> is [nq][channels],
    /// <paramref name="reference"/> [nr][channels], <paramref name="argmax"/> gets nq indices.</summary>
    public static void Reference(ReadOnlySpan<sbyte> query, ReadOnlySpan<sbyte> reference, int channels, Span<int> argmax)
    {
        var (nq, nr) = Validate(query.Length, reference.Length, channels, argmax.Length);
        for (int i = 0; i < nq; i++)
        {
            var q = query.Slice(i * channels, channels);
            int best = 0;
            long bestCost = long.MinValue;
            for (int j = 0; j < nr; j++)
            {
                var r = reference.Slice(j * channels, channels);
                int cost = 0;
                for (int c = 0; c < channels; c++) cost += q[c] * r[c];
                if (cost > bestCost) { bestCost = cost; best = j; }   // strict: ties keep the lowest j
            }
            argmax[i] = best;
        }
    }

    /// <summary>The fastest path on this CPU (<see cref="Run(ReadOnlySpan{sbyte}, ReadOnlySpan{sbyte}, int, int[], int)"/>
    /// takes it): with AVX-VNNI, vpdpbusd; with AVX2, int16 vpmaddwd; without AVX2, Vector128
    /// int16 products where Vector128 is hardware; else, and for rows too short to fill a
    /// vector (under 16 channels with AVX2, under 8 without), the scalar loop.</summary>
    public static ArgmaxPath BestPath(int channels)
    {
        if (!Avx2.IsSupported)
            return Vector128.IsHardwareAccelerated && channels >= 8 ? ArgmaxPath.Vector128 : ArgmaxPath.Scalar;
        if (channels < 16) return ArgmaxPath.Scalar;
        return AvxVnni.IsSupported ? ArgmaxPath.AvxVnni : ArgmaxPath.Avx2;
    }

    /// <summary>Whether <paramref name="path"/> runs on this CPU (any channel count: rows are
    /// padded with zeros, which add nothing to a dot product).</summary>
    public static bool IsSupported(ArgmaxPath path) => path switch
    {
        ArgmaxPath.Scalar or ArgmaxPath.Vector128 => true,
        ArgmaxPath.Avx2 => Avx2.IsSupported,
        ArgmaxPath.AvxVnni => Avx2.IsSupported && AvxVnni.IsSupported,
        _ => false,
    };

    /// <summary>The argmax on the fastest path here (<see cref="BestPath"/>), query rows split
    /// over <paramref name="threads"/>: the same indices as <see cref="Reference"/>.</summary>
    public static void Run(ReadOnlySpan<sbyte> query, ReadOnlySpan<sbyte> reference, int channels, int[] argmax, int threads = 1)
        => Run(query, reference, channels, argmax, threads, BestPath(channels));

    /// <summary>The argmax on a chosen path (tests and benchmarks compare them);
    /// <see cref="NotSupportedException"/> where this CPU cannot run it.</summary>
    public static void Run(ReadOnlySpan<sbyte> query, ReadOnlySpan<sbyte> reference, int channels, int[] argmax, int threads, ArgmaxPath path)
    {
        var (nq, nr) = Validate(query.Length, reference.Length, channels, argmax.Length);
        if (!IsSupported(path)) throw new NotSupportedException($"cost volume path {path} is not available on this CPU");
        switch (path)
        {
            case ArgmaxPath.Scalar:
                Reference(query, reference, channels, argmax);
                break;
            case ArgmaxPath.Vector128:
            {
                int p8 = (channels + 7) & ~7;
                short[] q16 = Widen(query, nq, channels, p8), r16 = Widen(reference, nr, channels, p8);
                RowParallel.For(nq, threads, (i0, i1) => Vector128Rows(q16, r16, nr, p8, argmax, i0, i1));
                break;
            }
            case ArgmaxPath.Avx2:
                RunAvx2(query, reference, channels, nq, nr, argmax, threads);
                break;
            case ArgmaxPath.AvxVnni:
                RunVnni(query, reference, channels, nq, nr, argmax, threads);
                break;
        }
    }

    static short[] Widen(ReadOnlySpan<sbyte> codes, int rows, int channels, int padded)
    {
        var w = new short[rows * padded];
        for (int i = 0; i < rows; i++)
            for (int c = 0; c < channels; c++) w[i * padded + c] = codes[i * channels + c];
        return w;
    }

    /// <summary>The cross-platform Vector128 API (CPUs without AVX2: ARM64, older x64): a
    /// product of two int8 codes fits int16 (|q·r| ≤ 2¹⁴), so 8 are multiplied in int16
    /// lanes, widened to int32 and summed; rows padded to a multiple of 8.</summary>
    static class Vector128Dot
    {
        /// <summary>q against four consecutive rows from <paramref name="r0"/>, sharing each load
        /// of q: the four dot products in lanes 0 to 3.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static unsafe Vector128<int> Dot4(short* q, short* r0, int padded)
        {
            Vector128<int> s0 = default, s1 = default, s2 = default, s3 = default;
            for (int c = 0; c < padded; c += 8)
            {
                var a = Vector128.Load(q + c);
                var (l, u) = Vector128.Widen(a * Vector128.Load(r0 + c)); s0 += l + u;
                (l, u) = Vector128.Widen(a * Vector128.Load(r0 + padded + c)); s1 += l + u;
                (l, u) = Vector128.Widen(a * Vector128.Load(r0 + 2 * padded + c)); s2 += l + u;
                (l, u) = Vector128.Widen(a * Vector128.Load(r0 + 3 * padded + c)); s3 += l + u;
            }
            return Vector128.Create(Vector128.Sum(s0), Vector128.Sum(s1), Vector128.Sum(s2), Vector128.Sum(s3));
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static unsafe int Dot(short* q, short* r, int padded)
        {
            Vector128<int> acc = default;
            for (int c = 0; c < padded; c += 8)
            {
                var (l, u) = Vector128.Widen(Vector128.Load(q + c) * Vector128.Load(r + c));
                acc += l + u;
            }
            return Vector128.Sum(acc);
        }
    }

    /// <summary>The Vector128 path's running argmax over int16-widened rows, for query rows
    /// [i0, i1). Four reference rows per pass share each query load; the comparison order is
    /// still j ascending with a strict comparison, so ties resolve exactly as in the reference
    /// loop.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static unsafe void Vector128Rows(short[] q16, short[] r16, int nr, int padded, int[] argmax, int i0, int i1)
    {
        fixed (short* pq = q16, pr = r16)
        {
            for (int i = i0; i < i1; i++)
            {
                short* q = pq + i * padded;
                int best = 0, bestCost = int.MinValue;
                int j = 0;
                for (; j + 3 < nr; j += 4)
                {
                    var costs = Vector128Dot.Dot4(q, pr + j * padded, padded);
                    int c0 = costs.GetElement(0), c1 = costs.GetElement(1), c2 = costs.GetElement(2), c3 = costs.GetElement(3);
                    if (c0 > bestCost) { bestCost = c0; best = j; }
                    if (c1 > bestCost) { bestCost = c1; best = j + 1; }
                    if (c2 > bestCost) { bestCost = c2; best = j + 2; }
                    if (c3 > bestCost) { bestCost = c3; best = j + 3; }
                }
                for (; j < nr; j++)
                {
                    int cost = Vector128Dot.Dot(q, pr + j * padded, padded);
                    if (cost > bestCost) { bestCost = cost; best = j; }
                }
                argmax[i] = best;
            }
        }
    }

    /// <summary>Query positions per register block of the blocked paths; reference positions per block.</summary>
    const int BlockQueries = 6, BlockRefs = 16;

    /// <summary>The AVX2 path: codes widened to int16 pairs, so one 4-byte group is two channels,
    /// and vpmaddwd of a broadcast query pair against eight references' pairs gives their eight
    /// partial sums without horizontal adds (exact: |q·r| ≤ 2¹⁴, a pair's sum fits int32).
    /// The reference codes are signed as the query's: no correction.</summary>
    static void RunAvx2(ReadOnlySpan<sbyte> query, ReadOnlySpan<sbyte> reference, int channels, int nq, int nr, int[] argmax, int threads)
    {
        int groups = (channels + 1) / 2;
        var (nqPad, nrPad) = Padded(nq, nr);
        var qb = new byte[nqPad * 4 * groups];
        var q = MemoryMarshal.Cast<byte, short>(qb.AsSpan());
        for (int i = 0; i < nq; i++)
            for (int c = 0; c < channels; c++) q[i * 2 * groups + c] = query[i * channels + c];
        var rb = new byte[nrPad * 4 * groups];
        var r = MemoryMarshal.Cast<byte, short>(rb.AsSpan());
        var corr = new int[nrPad];
        for (int j = 0; j < nrPad; j++)
        {
            if (j >= nr) { corr[j] = PaddingCorrection; continue; }
            for (int c = 0; c < channels; c++) r[((j / 8 * groups + c / 2) * 8 + j % 8) * 2 + c % 2] = reference[j * channels + c];
        }
        RowParallel.For(nqPad / BlockQueries, threads, (b0, b1) => Blocks<Avx2PairMultiply>(qb, rb, corr, groups, nq, nrPad, argmax, b0, b1));
    }

    /// <summary>The AVX-VNNI path: vpdpbusd needs one unsigned operand, so the query codes are
    /// shifted to q + 128 and each dot product comes out as E + 128·Σ_c r(j, c), that sum
    /// subtracted per reference (exact integers throughout: |E| ≤ 64·128·128 per 64 channels).
    /// One 4-byte group is four channels.</summary>
    static void RunVnni(ReadOnlySpan<sbyte> query, ReadOnlySpan<sbyte> reference, int channels, int nq, int nr, int[] argmax, int threads)
    {
        int groups = (channels + 3) / 4, cp = 4 * groups;
        var (nqPad, nrPad) = Padded(nq, nr);
        var qu = new byte[nqPad * cp];
        for (int i = 0; i < nq; i++)
            for (int c = 0; c < cp; c++) qu[i * cp + c] = (byte)((c < channels ? query[i * channels + c] : 0) + 128);
        var rg = new byte[nrPad * cp];
        var corr = new int[nrPad];
        for (int j = 0; j < nrPad; j++)
        {
            if (j >= nr) { corr[j] = PaddingCorrection; continue; }
            int sum = 0;
            for (int c = 0; c < channels; c++)
            {
                sbyte v = reference[j * channels + c];
                rg[((j / 8 * groups + c / 4) * 8 + j % 8) * 4 + c % 4] = (byte)v;
                sum += v;
            }
            corr[j] = 128 * sum;
        }
        RowParallel.For(nqPad / BlockQueries, threads, (b0, b1) => Blocks<VnniQuadMultiply>(qu, rg, corr, groups, nq, nrPad, argmax, b0, b1));
    }

    /// <summary>Padding references get a correction no real cost can lose to.</summary>
    const int PaddingCorrection = int.MaxValue / 2;

    static (int NqPad, int NrPad) Padded(int nq, int nr)
        => ((nq + BlockQueries - 1) / BlockQueries * BlockQueries, (nr + BlockRefs - 1) / BlockRefs * BlockRefs);

    /// <summary>One 4-byte group of a query (broadcast to every lane) times the same group of
    /// eight references, added to their eight running dot products.</summary>
    interface IGroupMultiply
    {
        static abstract Vector256<int> Accumulate(Vector256<int> sums, Vector256<int> queryGroup, Vector256<int> referenceGroups);
    }

    /// <summary>Two int16 channels per group: vpmaddwd, then vpaddd.</summary>
    readonly struct Avx2PairMultiply : IGroupMultiply
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<int> Accumulate(Vector256<int> sums, Vector256<int> queryGroup, Vector256<int> referenceGroups)
            => Avx2.Add(sums, Avx2.MultiplyAddAdjacent(queryGroup.AsInt16(), referenceGroups.AsInt16()));
    }

    /// <summary>Four byte channels per group (query unsigned, reference signed): one vpdpbusd.</summary>
    readonly struct VnniQuadMultiply : IGroupMultiply
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<int> Accumulate(Vector256<int> sums, Vector256<int> queryGroup, Vector256<int> referenceGroups)
            => AvxVnni.MultiplyWideningAndAdd(sums, queryGroup.AsByte(), referenceGroups.AsSByte());
    }

    /// <summary>Register blocks of 6 queries x 16 references over 4-byte channel groups: the
    /// references laid out in groups of 8 by channel group ([8 refs][group][8][4 bytes]), so one
    /// load is eight references' groups against a broadcast query group; the 12 sums stay in
    /// the 16 VEX registers. The cost is the sum minus the reference's correction. Each lane
    /// keeps its own running best over increasing j with a strict comparison, and the lanes are
    /// reduced with ties to the lowest j, which is the reference loop's order.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static unsafe void Blocks<TMul>(byte[] queries, byte[] references, int[] corr, int groups, int nq, int nrPad, int[] argmax, int b0, int b1)
        where TMul : struct, IGroupMultiply
    {
        int cp = 4 * groups;
        var bestCost = stackalloc int[BlockQueries * BlockRefs];
        var bestIdx = stackalloc int[BlockQueries * BlockRefs];
        var lane = Vector256.Create(0, 1, 2, 3, 4, 5, 6, 7);
        fixed (byte* pq = queries, pr = references)
        fixed (int* pc = corr)
            for (int blk = b0; blk < b1; blk++)
            {
                byte* q = pq + (long)blk * BlockQueries * cp;
                for (int k = 0; k < BlockQueries * BlockRefs; k++) { bestCost[k] = int.MinValue; bestIdx[k] = 0; }
                for (int jb = 0; jb < nrPad; jb += BlockRefs)
                {
                    Vector256<int> s00 = default, s01 = default, s10 = default, s11 = default, s20 = default, s21 = default;
                    Vector256<int> s30 = default, s31 = default, s40 = default, s41 = default, s50 = default, s51 = default;
                    byte* r0 = pr + (long)(jb / 8) * groups * 32, r1 = r0 + groups * 32;
                    for (int c = 0; c < groups; c++)
                    {
                        var w0 = Vector256.Load((int*)(r0 + c * 32)); var w1 = Vector256.Load((int*)(r1 + c * 32));
                        byte* a = q + c * 4;
                        var b = Vector256.Create(*(int*)a);
                        s00 = TMul.Accumulate(s00, b, w0); s01 = TMul.Accumulate(s01, b, w1);
                        b = Vector256.Create(*(int*)(a + cp));
                        s10 = TMul.Accumulate(s10, b, w0); s11 = TMul.Accumulate(s11, b, w1);
                        b = Vector256.Create(*(int*)(a + 2 * cp));
                        s20 = TMul.Accumulate(s20, b, w0); s21 = TMul.Accumulate(s21, b, w1);
                        b = Vector256.Create(*(int*)(a + 3 * cp));
                        s30 = TMul.Accumulate(s30, b, w0); s31 = TMul.Accumulate(s31, b, w1);
                        b = Vector256.Create(*(int*)(a + 4 * cp));
                        s40 = TMul.Accumulate(s40, b, w0); s41 = TMul.Accumulate(s41, b, w1);
                        b = Vector256.Create(*(int*)(a + 5 * cp));
                        s50 = TMul.Accumulate(s50, b, w0); s51 = TMul.Accumulate(s51, b, w1);
                    }
                    var c0 = Vector256.Load(pc + jb); var c1 = Vector256.Load(pc + jb + 8);
                    var j0 = lane + Vector256.Create(jb); var j1 = j0 + Vector256.Create(8);
                    Keep(bestCost, bestIdx, 0, s00 - c0, s01 - c1, j0, j1);
                    Keep(bestCost, bestIdx, 1, s10 - c0, s11 - c1, j0, j1);
                    Keep(bestCost, bestIdx, 2, s20 - c0, s21 - c1, j0, j1);
                    Keep(bestCost, bestIdx, 3, s30 - c0, s31 - c1, j0, j1);
                    Keep(bestCost, bestIdx, 4, s40 - c0, s41 - c1, j0, j1);
                    Keep(bestCost, bestIdx, 5, s50 - c0, s51 - c1, j0, j1);
                }
                for (int k = 0; k < BlockQueries; k++)
                {
                    int i = blk * BlockQueries + k;
                    if (i >= nq) break;
                    int best = int.MaxValue, cost = int.MinValue;
                    for (int l = 0; l < BlockRefs; l++)
                    {
                        int c = bestCost[k * BlockRefs + l], j = bestIdx[k * BlockRefs + l];
                        if (c > cost || (c == cost && j < best)) { cost = c; best = j; }
                    }
                    argmax[i] = best;
                }
            }
    }

    /// <summary>Per lane: where the new cost is strictly greater, it and its j replace the kept ones.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static unsafe void Keep(int* bestCost, int* bestIdx, int k, Vector256<int> cost0, Vector256<int> cost1, Vector256<int> j0, Vector256<int> j1)
    {
        int* bc = bestCost + k * BlockRefs, bi = bestIdx + k * BlockRefs;
        var b0 = Vector256.Load(bc); var b1 = Vector256.Load(bc + 8);
        var g0 = Vector256.GreaterThan(cost0, b0); var g1 = Vector256.GreaterThan(cost1, b1);
        Vector256.ConditionalSelect(g0, cost0, b0).Store(bc); Vector256.ConditionalSelect(g1, cost1, b1).Store(bc + 8);
        Vector256.ConditionalSelect(g0, j0, Vector256.Load(bi)).Store(bi); Vector256.ConditionalSelect(g1, j1, Vector256.Load(bi + 8)).Store(bi + 8);
    }

    static (int Nq, int Nr) Validate(int queryLength, int referenceLength, int channels, int argmaxLength)
    {
        if (channels <= 0) throw new ArgumentException($"cost volume: channel count {channels} must be positive");
        if (queryLength % channels != 0 || referenceLength % channels != 0)
            throw new ArgumentException($"cost volume: {queryLength} query and {referenceLength} reference codes are not whole rows of {channels} channels");
        int nq = queryLength / channels, nr = referenceLength / channels;
        if (nr == 0) throw new ArgumentException("cost volume: the reference has no positions");
        if (argmaxLength < nq) throw new ArgumentException($"cost volume: argmax has room for {argmaxLength} positions, needs {nq}");
        return (nq, nr);
    }
}
