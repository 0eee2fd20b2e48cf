using BenchmarkDotNet.Attributes;
using RefQsr.Engine.Networks;
using RefQsr.Engine.Weights;

namespace RefQsr.Bench;

/// <summary>The whole SRResNet x4 on one 96x96 LR patch, FP32 against the integer
/// ResBlocks at 8 and 4 bits (random weights: speed does not depend on their values).</summary>
[MemoryDiagnoser]
public class NetworkBenchmarks
{
    [Params("fp32", "ddtb-w8a8", "ddtb-w4a4")]
    public string Model { get; set; } = "fp32";

    SrResNet net = null!;
    float[] lr = [];

    [GlobalSetup]
    public void Setup()
    {
        var q = Model == "fp32" ? QuantizerKind.None : QuantizerKind.Ddtb;
        int bits = Model.EndsWith("w4a4", StringComparison.Ordinal) ? 4 : 8;
        net = SrResNet.Load(RandomModels.SrResNet(q, bits));
        var r = new Random(2);
        lr = Enumerable.Range(0, 96 * 96 * 3).Select(_ => (float)r.Next(256)).ToArray();
    }

    [Benchmark]
    public float[] Patch96() => net.Forward(lr, 96, 96, 1);
}
