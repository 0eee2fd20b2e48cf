using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace RefQsr.Bench;

/// <summary>How much this host gives a second thread of vector work, measured in the same run
/// as the 2-thread rows. A register-only loop that keeps one core's vector multiply-add
/// pipes full runs alone, then on two threads at once; the scaling is 2 x (time alone) /
/// (time of both). Two real cores give 2.0x. A latency-bound scalar loop scales 2.0x here,
/// but the vector loop swings between 1.0x and 2.0x from one sample to the next: at times
/// the two vCPUs share one physical core's vector units (SMT siblings on the host), and
/// then no code can run vector-bound work 2x faster on two threads.</summary>
internal static class TwoThreadCeiling
{
    public readonly record struct Samples(double Median, double Min, double Max, int AtLeast18, int Count);

    /// <summary><paramref name="count"/> samples of the FP32 FMA loop, each about 2 x 20 ms.</summary>
    public static Samples FmaScaling(int count)
    {
        Fma(1000);
        var s = new List<double>(count);
        for (int k = 0; k < count; k++) s.Add(Sample(5_000_000));
        return Summarize(s);
    }

    /// <summary>One sample: 2 x (the loop alone) / (the loop on two threads at once).
    /// 1,000,000 iterations take about 4 ms alone.</summary>
    public static double Sample(long iterations)
    {
        var sw = Stopwatch.StartNew();
        Fma(iterations);
        double one = sw.Elapsed.TotalMilliseconds;
        return 2 * one / BothAtOnce(() => Fma(iterations));
    }

    public static Samples Summarize(List<double> s)
    {
        s.Sort();
        return new Samples(s[s.Count / 2], s[0], s[^1], s.Count(x => x >= 1.8), s.Count);
    }

    /// <summary>Wall time of two dedicated threads that start the action together.</summary>
    static double BothAtOnce(Action action)
    {
        using var go = new Barrier(3);
        var threads = new Thread[2];
        for (int i = 0; i < 2; i++)
        {
            threads[i] = new Thread(() => { go.SignalAndWait(); action(); });
            threads[i].Start();
        }
        go.SignalAndWait();
        var sw = Stopwatch.StartNew();
        foreach (var t in threads) t.Join();
        return sw.Elapsed.TotalMilliseconds;
    }

    /// <summary>12 independent FMA chains (more than latency x ports) whose multipliers
    /// alternate, so the JIT cannot fold the loop.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    static float Fma(long iters)
    {
        var a = Vector512.Create(1.0f);
        var b0 = Vector512.Create(0.999f); var b1 = Vector512.Create(0.998f);
        Vector512<float> c0 = a, c1 = a, c2 = a, c3 = a, c4 = a, c5 = a, c6 = a, c7 = a, c8 = a, c9 = a, c10 = a, c11 = a;
        for (long i = 0; i < iters; i++)
        {
            c0 = Vector512.FusedMultiplyAdd(c0, b0, a); c1 = Vector512.FusedMultiplyAdd(c1, b1, a);
            c2 = Vector512.FusedMultiplyAdd(c2, b0, a); c3 = Vector512.FusedMultiplyAdd(c3, b1, a);
            c4 = Vector512.FusedMultiplyAdd(c4, b0, a); c5 = Vector512.FusedMultiplyAdd(c5, b1, a);
            c6 = Vector512.FusedMultiplyAdd(c6, b0, a); c7 = Vector512.FusedMultiplyAdd(c7, b1, a);
            c8 = Vector512.FusedMultiplyAdd(c8, b0, a); c9 = Vector512.FusedMultiplyAdd(c9, b1, a);
            c10 = Vector512.FusedMultiplyAdd(c10, b0, a); c11 = Vector512.FusedMultiplyAdd(c11, b1, a);
            (b0, b1) = (b1, b0);
        }
        return (c0 + c1 + c2 + c3 + c4 + c5 + c6 + c7 + c8 + c9 + c10 + c11).ToScalar();
    }
}
