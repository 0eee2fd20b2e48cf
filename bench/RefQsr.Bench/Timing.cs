using System.Diagnostics;

namespace RefQsr.Bench;

/// <summary>Median wall time of an action after one warm-up run.</summary>
internal static class Timing
{
    public static double MedianMs(Action action, int minRuns, double budgetMs)
    {
        action();
        var times = new List<double>();
        var total = Stopwatch.StartNew();
        while (times.Count < minRuns || (total.Elapsed.TotalMilliseconds < budgetMs && times.Count < 50))
        {
            var sw = Stopwatch.StartNew();
            action();
            times.Add(sw.Elapsed.TotalMilliseconds);
            if (times.Count >= minRuns && total.Elapsed.TotalMilliseconds >= budgetMs) break;
        }
        times.Sort();
        return times[times.Count / 2];
    }

    /// <summary>Medians of two actions timed alternately (a, b, a, b, ...) after a warm-up
    /// run of each, so that a change in the shared host's load hits both alike: for rows that
    /// compare two of our own models.</summary>
    /// <param name="untimed">Calls of each action before its timed one in every turn. A
    /// multi-threaded call right after a one-thread call finds the thread pool's workers
    /// asleep, and a call of a millisecond or two is half done before they wake; one untimed
    /// call first measures the steady state that calls in a row (a network's layers) run in.</param>
    /// <param name="between">Run untimed after every turn (a probe of the host's state).</param>
    public static (double A, double B) MedianPairMs(Action a, Action b, int minRuns, double budgetMs, int untimed = 0, Action? between = null)
    {
        a(); b();
        var ta = new List<double>();
        var tb = new List<double>();
        var total = Stopwatch.StartNew();
        while (ta.Count < minRuns || (total.Elapsed.TotalMilliseconds < budgetMs && ta.Count < 50))
        {
            for (int i = 0; i < untimed; i++) a();
            var sw = Stopwatch.StartNew();
            a();
            ta.Add(sw.Elapsed.TotalMilliseconds);
            for (int i = 0; i < untimed; i++) b();
            sw.Restart();
            b();
            tb.Add(sw.Elapsed.TotalMilliseconds);
            between?.Invoke();
            if (ta.Count >= minRuns && total.Elapsed.TotalMilliseconds >= budgetMs) break;
        }
        ta.Sort();
        tb.Sort();
        return (ta[ta.Count / 2], tb[tb.Count / 2]);
    }
}
