using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

namespace RefQsr.Bench;

/// <summary>A summary column with each benchmark's multiply-accumulates per second, from its
/// mean time and the MAC count of one operation (fixed, or per case where the cases' sizes differ).</summary>
internal sealed class GmacColumn(Func<BenchmarkCase, long> macsPerOperation, string macsLegend) : NumericColumn("GMAC/s", 0)
{
    public GmacColumn(long macsPerOperation) : this(_ => macsPerOperation, $"{macsPerOperation / 1e6:F1} M per operation") { }
    public GmacColumn(Func<BenchmarkCase, long> macsPerOperation) : this(macsPerOperation, "per case") { }

    public override string Legend => $"Billions of multiply-accumulates per second ({macsLegend}, mean time)";

    protected override string? Value(Summary summary, BenchmarkCase benchmarkCase)
    {
        long macs = macsPerOperation(benchmarkCase);
        return MeanNs(summary, benchmarkCase) is > 0 and var ns && macs > 0 ? (macs / ns).ToString("F1", System.Globalization.CultureInfo.InvariantCulture) : null;
    }
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
