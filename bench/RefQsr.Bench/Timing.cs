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
}
