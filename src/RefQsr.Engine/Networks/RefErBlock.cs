using RefQsr.Engine.RefQsr;
using RefQsr.Engine.Weights;
using RefQsr.Kernels;

namespace RefQsr.Engine.Networks;

/// <summary>RefER block j (docs/refqsr.md): matches the query feature against the
/// reference's input to block j, warps the reference onto the query and repairs the
/// query with out = Fq + QConv2(PReLU(QConv1(Fq − Fw))), both convs at b_high with the
/// block's own (never gated) activation quantizers.</summary>
internal sealed class RefErBlock
{
    public int Index { get; }
    public QuantizedConv Conv1 { get; }
    public QuantizedConv Conv2 { get; }
    public ActivationQuantizer Q1 { get; }
    public ActivationQuantizer Q2 { get; }
    public float Slope { get; }

    RefErBlock(int index, QuantizedConv c1, QuantizedConv c2, ActivationQuantizer q1, ActivationQuantizer q2, float slope)
    {
        Index = index; Conv1 = c1; Conv2 = c2; Q1 = q1; Q2 = q2; Slope = slope;
    }

    public static RefErBlock Load(ModelFile f, ModelConfig c, int j)
    {
        string p = $"refer.{j}.";
        return new RefErBlock(j,
            QuantizedConv.Load(f, p + "conv1.", c.Quantizer, c.Channels), QuantizedConv.Load(f, p + "conv2.", c.Quantizer, c.Channels),
            ActivationQuantizer.Load(f, p + "q1.", c.Quantizer, false, c.Channels), ActivationQuantizer.Load(f, p + "q2.", c.Quantizer, false, c.Channels),
            ActivationQuantizer.Finite(f, p + "act.weight"));
    }

    /// <summary>fq ← RefER(fq, fr), in place. <paramref name="fr"/> may have another size
    /// than <paramref name="fq"/> (stretched border patches).</summary>
    public void Forward(float[] fq, int hq, int wq, float[] fr, int hr, int wr, int bHigh, int bLow, int threads, ForwardTrace? trace,
        sbyte[]? referenceCodes = null)
    {
        int ch = Conv1.Channels;
        var flow = referenceCodes is null
            ? RefErMatching.PixelFlow(fq, hq, wq, fr, hr, wr, ch, bLow, threads)
            : RefErMatching.PixelFlow(fq, hq, wq, referenceCodes, hr, wr, ch, bLow, threads);
        if (flow is null) return;
        var diff = new float[fq.Length];
        BilinearWarp.Run(fr, hr, wr, ch, flow, hq, wq, diff);
        for (int i = 0; i < diff.Length; i++) diff[i] = fq[i] - diff[i];
        var y = new float[fq.Length];
        var codes = Conv1.Forward(diff, Q1.For(diff, ch, bHigh), bHigh, hq, wq, y, threads, new EpilogueOps { PReluSlope = Slope });
        trace?.Record($"refer.{Index}.q1", codes);
        // the residual add is fused: fq ← fq + conv2(...)
        codes = Conv2.Forward(y, Q2.For(y, ch, bHigh), bHigh, hq, wq, fq, threads, new EpilogueOps { Residual = fq });
        trace?.Record($"refer.{Index}.q2", codes);
    }
}
