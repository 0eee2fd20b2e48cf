using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

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

    /// <summary>Fast path: codes widened to int16 once, vpmaddwd dot products (exact: a
    /// product of two int8 values and the sum of two fit in int32), query rows split over
    /// threads. Falls back to <see cref="Reference"/> without Avx2.</summary>
    public static void Run(ReadOnlySpan<sbyte> query, ReadOnlySpan<sbyte> reference, int channels, int[] argmax, int threads = 1)
    {
        var (nq, nr) = Validate(query.Length, reference.Length, channels, argmax.Length);
        if (!Avx2.IsSupported || channels < 16)
        {
            Reference(query, reference, channels, argmax);
            return;
        }
        // pad every row to a multiple of 16 channels with zeros: they add nothing to a dot product
        int padded = (channels + 15) & ~15;
        short[] q16 = Widen(query, nq, channels, padded), r16 = Widen(reference, nr, channels, padded);
        RowParallel.For(nq, threads, (i0, i1) => VectorRows(q16, r16, nr, padded, argmax, i0, i1));
    }

    static short[] Widen(ReadOnlySpan<sbyte> codes, int rows, int channels, int padded)
    {
        var w = new short[rows * padded];
        for (int i = 0; i < rows; i++)
            for (int c = 0; c < channels; c++) w[i * padded + c] = codes[i * channels + c];
        return w;
    }

    // Four reference rows per pass share each query load; the comparison order is still
    // j ascending, so ties resolve exactly as in the reference loop.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static unsafe void VectorRows(short[] q16, short[] r16, int nr, int padded, int[] argmax, int i0, int i1)
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
                    short* r0 = pr + j * padded;
                    Vector256<int> s0 = default, s1 = default, s2 = default, s3 = default;
                    for (int c = 0; c < padded; c += 16)
                    {
                        var a = Vector256.Load(q + c);
                        s0 = Avx2.Add(s0, Avx2.MultiplyAddAdjacent(a, Vector256.Load(r0 + c)));
                        s1 = Avx2.Add(s1, Avx2.MultiplyAddAdjacent(a, Vector256.Load(r0 + padded + c)));
                        s2 = Avx2.Add(s2, Avx2.MultiplyAddAdjacent(a, Vector256.Load(r0 + 2 * padded + c)));
                        s3 = Avx2.Add(s3, Avx2.MultiplyAddAdjacent(a, Vector256.Load(r0 + 3 * padded + c)));
                    }
                    int c0 = Vector256.Sum(s0), c1 = Vector256.Sum(s1), c2 = Vector256.Sum(s2), c3 = Vector256.Sum(s3);
                    if (c0 > bestCost) { bestCost = c0; best = j; }
                    if (c1 > bestCost) { bestCost = c1; best = j + 1; }
                    if (c2 > bestCost) { bestCost = c2; best = j + 2; }
                    if (c3 > bestCost) { bestCost = c3; best = j + 3; }
                }
                for (; j < nr; j++)
                {
                    short* r = pr + j * padded;
                    Vector256<int> s = default;
                    for (int c = 0; c < padded; c += 16)
                        s = Avx2.Add(s, Avx2.MultiplyAddAdjacent(Vector256.Load(q + c), Vector256.Load(r + c)));
                    int cost = Vector256.Sum(s);
                    if (cost > bestCost) { bestCost = cost; best = j; }
                }
                argmax[i] = best;
            }
        }
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
