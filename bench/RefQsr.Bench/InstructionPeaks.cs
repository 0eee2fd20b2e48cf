using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace RefQsr.Bench;

/// <summary>This core's ceiling for the multiply-add the integer kernels are built on,
/// measured the way the kernels use it: 16 independent accumulators in registers, no
/// memory. The multiply inputs change every iteration (the weight registers rotate), so
/// the JIT cannot hoist the multiplies out of the loop. SPEC §8's "about 420 GMAC/s" came
/// from a loop whose inputs were loop-invariant: there the JIT moves the vpmaddubsw out of
/// the loop and only the adds are timed.</summary>
internal static class InstructionPeaks
{
    /// <summary>The registers the peaks below are measured in: those the kernels' paths use on this CPU.</summary>
    public static string Registers => Avx512BW.IsSupported ? "Vector512" : Avx2.IsSupported ? "Vector256 (no AVX-512 here)" : "none (no AVX2 here)";

    /// <summary>vpmaddubsw + vpaddw: 64 MACs per multiply on Vector512, 32 on Vector256
    /// (NaN without AVX2).</summary>
    public static double Int16MaddGmacs() => Avx512BW.IsSupported ? Best(iters => { var r = Int16Madd(iters); return (double)r[0]; }, 16 * 64)
        : Avx2.IsSupported ? Best(iters => { var r = Int16Madd256(iters); return (double)r[0]; }, 8 * 32) : double.NaN;

    /// <summary>vpmaddwd + vpaddd: 32 MACs per multiply on Vector512, 16 on Vector256 (the 8-bit pair paths).</summary>
    public static double PairMaddGmacs() => Avx512BW.IsSupported ? Best(iters => { var r = PairMadd(iters); return (double)r[0]; }, 16 * 32)
        : Avx2.IsSupported ? Best(iters => { var r = PairMadd256(iters); return (double)r[0]; }, 8 * 16) : double.NaN;

    // AVX2 has 16 registers: 8 accumulators, 4 rotating weights and 2 inputs
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    static Vector256<short> Int16Madd256(long iters)
    {
        var w0 = Vector256.Create((sbyte)3); var w1 = Vector256.Create((sbyte)5); var w2 = Vector256.Create((sbyte)-2); var w3 = Vector256.Create((sbyte)1);
        var a = Vector256.Create((byte)7); var b = Vector256.Create((byte)9);
        Vector256<short> s00 = default, s01 = default, s02 = default, s03 = default, s10 = default, s11 = default, s12 = default, s13 = default;
        for (long i = 0; i < iters; i++)
        {
            s00 += Avx2.MultiplyAddAdjacent(a, w0); s01 += Avx2.MultiplyAddAdjacent(a, w1); s02 += Avx2.MultiplyAddAdjacent(a, w2); s03 += Avx2.MultiplyAddAdjacent(a, w3);
            s10 += Avx2.MultiplyAddAdjacent(b, w0); s11 += Avx2.MultiplyAddAdjacent(b, w1); s12 += Avx2.MultiplyAddAdjacent(b, w2); s13 += Avx2.MultiplyAddAdjacent(b, w3);
            (w0, w1, w2, w3) = (w1, w2, w3, w0);
        }
        return s00 + s01 + s02 + s03 + s10 + s11 + s12 + s13;
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    static Vector256<int> PairMadd256(long iters)
    {
        var w0 = Vector256.Create((short)3); var w1 = Vector256.Create((short)5); var w2 = Vector256.Create((short)-2); var w3 = Vector256.Create((short)1);
        var a = Vector256.Create((short)7); var b = Vector256.Create((short)9);
        Vector256<int> s00 = default, s01 = default, s02 = default, s03 = default, s10 = default, s11 = default, s12 = default, s13 = default;
        for (long i = 0; i < iters; i++)
        {
            s00 += Avx2.MultiplyAddAdjacent(a, w0); s01 += Avx2.MultiplyAddAdjacent(a, w1); s02 += Avx2.MultiplyAddAdjacent(a, w2); s03 += Avx2.MultiplyAddAdjacent(a, w3);
            s10 += Avx2.MultiplyAddAdjacent(b, w0); s11 += Avx2.MultiplyAddAdjacent(b, w1); s12 += Avx2.MultiplyAddAdjacent(b, w2); s13 += Avx2.MultiplyAddAdjacent(b, w3);
            (w0, w1, w2, w3) = (w1, w2, w3, w0);
        }
        return s00 + s01 + s02 + s03 + s10 + s11 + s12 + s13;
    }

    static double Best(Func<long, double> run, int macsPerIteration)
    {
        run(10_000);
        const long iters = 20_000_000;
        double best = 0;
        for (int k = 0; k < 3; k++)
        {
            var sw = Stopwatch.StartNew();
            run(iters);
            best = Math.Max(best, iters * (double)macsPerIteration / sw.Elapsed.TotalSeconds / 1e9);
        }
        return best;
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    static Vector512<short> Int16Madd(long iters)
    {
        var w0 = Vector512.Create((sbyte)3); var w1 = Vector512.Create((sbyte)5); var w2 = Vector512.Create((sbyte)-2); var w3 = Vector512.Create((sbyte)1);
        var a = Vector512.Create((byte)7); var b = Vector512.Create((byte)9); var c = Vector512.Create((byte)2); var d = Vector512.Create((byte)4);
        Vector512<short> s00 = default, s01 = default, s02 = default, s03 = default, s10 = default, s11 = default, s12 = default, s13 = default;
        Vector512<short> s20 = default, s21 = default, s22 = default, s23 = default, s30 = default, s31 = default, s32 = default, s33 = default;
        for (long i = 0; i < iters; i++)
        {
            s00 += Avx512BW.MultiplyAddAdjacent(a, w0); s01 += Avx512BW.MultiplyAddAdjacent(a, w1); s02 += Avx512BW.MultiplyAddAdjacent(a, w2); s03 += Avx512BW.MultiplyAddAdjacent(a, w3);
            s10 += Avx512BW.MultiplyAddAdjacent(b, w0); s11 += Avx512BW.MultiplyAddAdjacent(b, w1); s12 += Avx512BW.MultiplyAddAdjacent(b, w2); s13 += Avx512BW.MultiplyAddAdjacent(b, w3);
            s20 += Avx512BW.MultiplyAddAdjacent(c, w0); s21 += Avx512BW.MultiplyAddAdjacent(c, w1); s22 += Avx512BW.MultiplyAddAdjacent(c, w2); s23 += Avx512BW.MultiplyAddAdjacent(c, w3);
            s30 += Avx512BW.MultiplyAddAdjacent(d, w0); s31 += Avx512BW.MultiplyAddAdjacent(d, w1); s32 += Avx512BW.MultiplyAddAdjacent(d, w2); s33 += Avx512BW.MultiplyAddAdjacent(d, w3);
            (w0, w1, w2, w3) = (w1, w2, w3, w0);
        }
        return s00 + s01 + s02 + s03 + s10 + s11 + s12 + s13 + s20 + s21 + s22 + s23 + s30 + s31 + s32 + s33;
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    static Vector512<int> PairMadd(long iters)
    {
        var w0 = Vector512.Create((short)3); var w1 = Vector512.Create((short)5); var w2 = Vector512.Create((short)-2); var w3 = Vector512.Create((short)1);
        var a = Vector512.Create((short)7); var b = Vector512.Create((short)9); var c = Vector512.Create((short)2); var d = Vector512.Create((short)4);
        Vector512<int> s00 = default, s01 = default, s02 = default, s03 = default, s10 = default, s11 = default, s12 = default, s13 = default;
        Vector512<int> s20 = default, s21 = default, s22 = default, s23 = default, s30 = default, s31 = default, s32 = default, s33 = default;
        for (long i = 0; i < iters; i++)
        {
            s00 += Avx512BW.MultiplyAddAdjacent(a, w0); s01 += Avx512BW.MultiplyAddAdjacent(a, w1); s02 += Avx512BW.MultiplyAddAdjacent(a, w2); s03 += Avx512BW.MultiplyAddAdjacent(a, w3);
            s10 += Avx512BW.MultiplyAddAdjacent(b, w0); s11 += Avx512BW.MultiplyAddAdjacent(b, w1); s12 += Avx512BW.MultiplyAddAdjacent(b, w2); s13 += Avx512BW.MultiplyAddAdjacent(b, w3);
            s20 += Avx512BW.MultiplyAddAdjacent(c, w0); s21 += Avx512BW.MultiplyAddAdjacent(c, w1); s22 += Avx512BW.MultiplyAddAdjacent(c, w2); s23 += Avx512BW.MultiplyAddAdjacent(c, w3);
            s30 += Avx512BW.MultiplyAddAdjacent(d, w0); s31 += Avx512BW.MultiplyAddAdjacent(d, w1); s32 += Avx512BW.MultiplyAddAdjacent(d, w2); s33 += Avx512BW.MultiplyAddAdjacent(d, w3);
            (w0, w1, w2, w3) = (w1, w2, w3, w0);
        }
        return s00 + s01 + s02 + s03 + s10 + s11 + s12 + s13 + s20 + s21 + s22 + s23 + s30 + s31 + s32 + s33;
    }
}
