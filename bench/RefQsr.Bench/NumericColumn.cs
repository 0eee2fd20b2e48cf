using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

namespace RefQsr.Bench;

/// <summary>What BenchmarkDotNet asks of a custom numeric summary column, once: a subclass
/// gives its name, legend and a value per case (null: "-").</summary>
internal abstract class NumericColumn(string name, int priority) : IColumn
{
    public string Id => GetType().Name + name;
    public string ColumnName => name;
    public bool AlwaysShow => true;
    public ColumnCategory Category => ColumnCategory.Custom;
    public int PriorityInCategory => priority;
    public bool IsNumeric => true;
    public UnitType UnitType => UnitType.Dimensionless;
    public abstract string Legend { get; }
    public bool IsAvailable(Summary summary) => true;
    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
    public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);
    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style) => Value(summary, benchmarkCase) ?? "-";
    public override string ToString() => ColumnName;

    protected abstract string? Value(Summary summary, BenchmarkCase benchmarkCase);

    /// <summary>A case's mean time in nanoseconds, where it ran.</summary>
    protected static double? MeanNs(Summary summary, BenchmarkCase benchmarkCase) => summary[benchmarkCase]?.ResultStatistics?.Mean;
}
