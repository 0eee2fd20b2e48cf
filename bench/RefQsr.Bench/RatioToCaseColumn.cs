using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

namespace RefQsr.Bench;

/// <summary>A summary column with a baseline case's mean time over each case's, where the
/// baseline is another parameter value of the same method (BenchmarkDotNet's own Ratio column
/// compares methods, not parameter values). <paramref name="isBaselineOf"/>(candidate, case)
/// says whether candidate is case's baseline.</summary>
internal sealed class RatioToCaseColumn(string name, Func<BenchmarkCase, BenchmarkCase, bool> isBaselineOf) : NumericColumn(name, 1)
{
    public override string Legend => $"{ColumnName}: the baseline case's mean time over this case's, measured in the same run (2.00 = twice as fast)";

    protected override string? Value(Summary summary, BenchmarkCase benchmarkCase)
    {
        var baseline = summary.BenchmarksCases.FirstOrDefault(c => isBaselineOf(c, benchmarkCase));
        return MeanNs(summary, benchmarkCase) is > 0 and var mine && baseline is not null && MeanNs(summary, baseline) is > 0 and var theirs
            ? (theirs / mine).ToString("F2", System.Globalization.CultureInfo.InvariantCulture) : null;
    }
}
