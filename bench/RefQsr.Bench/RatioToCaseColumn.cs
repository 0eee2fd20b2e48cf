using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

namespace RefQsr.Bench;

/// <summary>A summary column with a baseline case's mean time over each case's, where the
/// baseline is another parameter value of the same method (BenchmarkDotNet's own Ratio column
/// compares methods, not parameter values). <paramref name="isBaselineOf"/>(candidate, case)
/// says whether candidate is case's baseline.</summary>
internal sealed class RatioToCaseColumn(string name, Func<BenchmarkCase, BenchmarkCase, bool> isBaselineOf) : IColumn
{
    public string Id => nameof(RatioToCaseColumn) + name;
    public string ColumnName => name;
    public bool AlwaysShow => true;
    public ColumnCategory Category => ColumnCategory.Custom;
    public int PriorityInCategory => 1;
    public bool IsNumeric => true;
    public UnitType UnitType => UnitType.Dimensionless;
    public string Legend => $"{name}: the baseline case's mean time over this case's, measured in the same run (2.00 = twice as fast)";
    public bool IsAvailable(Summary summary) => true;
    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
    public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
    {
        var baseline = summary.BenchmarksCases.FirstOrDefault(c => isBaselineOf(c, benchmarkCase));
        double? mine = summary[benchmarkCase]?.ResultStatistics?.Mean;
        double? theirs = baseline is null ? null : summary[baseline]?.ResultStatistics?.Mean;
        return mine is > 0 && theirs is > 0 ? (theirs.Value / mine.Value).ToString("F2", System.Globalization.CultureInfo.InvariantCulture) : "-";
    }

    public override string ToString() => ColumnName;
}
