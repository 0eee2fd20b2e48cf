using System.Runtime.Intrinsics;
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
        referenceCodes ??= RefErMatching.ReferenceCodes(fr, hr, wr, ch, bLow);
        int[]? match = null;
        var flow = referenceCodes is null ? null
            : RefErMatching.PixelFlow(fq, hq, wq, referenceCodes, hr, wr, ch, bLow, threads, out match);
        if (flow is null) return;
        trace?.RecordMatching($"refer.{Index}", match!, flow);
        int n = fq.Length;
        var floats = System.Buffers.ArrayPool<float>.Shared;
        var bytes = System.Buffers.ArrayPool<byte>.Shared;
        // the difference and the two convs' input codes live only for this block unless a
        // trace keeps the codes: pooled (each is written in full before it is read)
        var diff = floats.Rent(n);
        byte[] codes1 = trace is null ? bytes.Rent(n) : new byte[n];
        byte[] codes2 = trace is null ? bytes.Rent(n) : new byte[n];
        try
        {
            BilinearWarp.Run(fr, hr, wr, ch, flow, hq, wq, diff);
            Subtract(fq, diff, n);
            // conv1's epilogue (PReLU) writes conv2's input codes directly: the block's
            // quantizers are never gated, so conv2's does not read its input
            var aq2 = Q2.ForMeans(default, bHigh);
            var codes = Conv1.Forward(diff, Q1.For(diff.AsSpan(0, n), ch, bHigh), bHigh, hq, wq, [], threads,
                new EpilogueOps { PReluSlope = Slope, NextCodes = codes2, NextQuantizer = aq2.ForKernels, CodesOnly = true }, null, codes1);
            trace?.Record($"refer.{Index}.q1", codes);
            // the residual add is fused: fq ← fq + conv2(...)
            codes = Conv2.Forward(fq, aq2, bHigh, hq, wq, fq, threads, new EpilogueOps { Residual = fq }, codes2);
            trace?.Record($"refer.{Index}.q2", codes);
        }
        finally
        {
            floats.Return(diff);
            if (trace is null)
            {
                bytes.Return(codes1);
                bytes.Return(codes2);
            }
        }
    }

    /// <summary>d ← q − d over the first n values, 16 or 8 at a time: one float subtraction
    /// per value, the same bits as the scalar loop.</summary>
    static void Subtract(float[] q, float[] d, int n)
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
            for (; i + 16 <= n; i += 16)
                (Vector512.Create(q.AsSpan(i, 16)) - Vector512.Create(d.AsSpan(i, 16))).CopyTo(d.AsSpan(i, 16));
        else if (Vector256.IsHardwareAccelerated)
            for (; i + 8 <= n; i += 8)
                (Vector256.Create(q.AsSpan(i, 8)) - Vector256.Create(d.AsSpan(i, 8))).CopyTo(d.AsSpan(i, 8));
        for (; i < n; i++) d[i] = q[i] - d[i];
    }
}
