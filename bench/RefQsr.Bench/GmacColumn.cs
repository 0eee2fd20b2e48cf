using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

namespace RefQsr.Bench;

/// <summary>A summary column with each benchmark's multiply-accumulates per second, from its
/// mean time and the MAC count of one operation (fixed, or per case where the cases' sizes differ).</summary>
internal sealed class GmacColumn(Func<BenchmarkCase, long> macsPerOperation, string macsLegend) : IColumn
{
    public GmacColumn(long macsPerOperation) : this(_ => macsPerOperation, $"{macsPerOperation / 1e6:F1} M per operation") { }
    public GmacColumn(Func<BenchmarkCase, long> macsPerOperation) : this(macsPerOperation, "per case") { }

    public string Id => nameof(GmacColumn);
    public string ColumnName => "GMAC/s";
    public bool AlwaysShow => true;
    public ColumnCategory Category => ColumnCategory.Custom;
    public int PriorityInCategory => 0;
    public bool IsNumeric => true;
    public UnitType UnitType => UnitType.Dimensionless;
    public string Legend => $"Billions of multiply-accumulates per second ({macsLegend}, mean time)";
    public bool IsAvailable(Summary summary) => true;
    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
    public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
    {
        double? meanNs = summary[benchmarkCase]?.ResultStatistics?.Mean;
        long macs = macsPerOperation(benchmarkCase);
        return meanNs is > 0 && macs > 0 ? (macs / meanNs.Value).ToString("F1", System.Globalization.CultureInfo.InvariantCulture) : "-";
    }

    public override string ToString() => ColumnName;
}

/// <summary>The conv suite's config: the default columns plus GMAC/s.</summary>
internal sealed class ConvBenchmarkConfig : ManualConfig
{
    public ConvBenchmarkConfig() => AddColumn(new GmacColumn(ConvBenchmarks.Macs));
}

/// <summary>The kernel path suite's config: the conv suite's, with room for the case names
/// (bit-widths and path) instead of BenchmarkDotNet's 20 characters.</summary>
internal sealed class KernelPathBenchmarkConfig : ManualConfig
{
    public KernelPathBenchmarkConfig()
    {
        AddColumn(new GmacColumn(ConvBenchmarks.Macs));
        SummaryStyle = SummaryStyle.Default.WithMaxParameterColumnWidth(48);
    }
}
