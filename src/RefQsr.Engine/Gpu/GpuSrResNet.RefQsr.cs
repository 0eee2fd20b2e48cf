using System.Runtime.InteropServices;
using ILGPU;
using ILGPU.Runtime;
using RefQsr.Engine.Networks;
using RefQsr.Engine.Quantization;
using RefQsr.Engine.Weights;
using RefQsr.Kernels;
using RefQsr.Kernels.Gpu;

namespace RefQsr.Engine.Gpu;

/// <summary>The two per-patch paths of a RefQSR model on the device (the twins of
/// SrResNet.ForwardReference and ForwardQuery, docs/refqsr.md "Per patch"), RefER included:
/// normalise, pool, b_low codes, argmax cost volume, flow upsampling, warp and the two
/// b_high convs run as kernels, with no host round trip (RefER's quantizers are never
/// gated, and whether a patch has a pooled grid follows from its size).</summary>
internal sealed partial class GpuSrResNet
{
    /// <summary>RefQSR query path: blocks 1 .. FirstRefEr−1 at (b_medium, b_low); null elsewhere.</summary>
    readonly DeviceResBlock?[] lowBlocks;
    readonly DeviceRefErBlock[] refEr;

    RefQsrSettings Settings => Network.Config.RefQsr
        ?? throw new InvalidOperationException($"{Network.Config.Describe()} is not a RefQSR model");

    (DeviceResBlock?[], DeviceRefErBlock[]) UploadQueryPath(Accelerator a, RefQsrSettings s)
    {
        var low = new BlockPrecision(s.BMedium, s.BLow);
        var lowPath = Network.Blocks.Select((b, i) => s.IsLowBlock(i) ? new DeviceResBlock(a, b, low) : null).ToArray();
        return (lowPath, Network.RefEr.Select(b => new DeviceRefErBlock(a, b, s.BHigh)).ToArray());
    }

    /// <summary>Reference path: every block at b_high with the standard quantizers. With
    /// <paramref name="keepFeatures"/>, also keeps the inputs to the RefER blocks (and their
    /// match codes) on the device for the queries; the caller disposes them.</summary>
    public (float[] Hr, DeviceReferenceFeatures? Features) ForwardReference(ReadOnlySpan<float> lr, int h, int w, bool keepFeatures, ForwardTrace? trace = null)
    {
        var s = Settings;
        lock (gate)
        {
            var ws = Head(lr, h, w);
            var kept = keepFeatures ? new DeviceReferenceFeatures(Device.Accelerator, h, w, ch, s.RefErBlocks.Count) : null;
            try
            {
                StartBody();
                for (int i = 0; i < blocks.Length; i++)
                {
                    int k = i - s.FirstRefEr;
                    if (kept is not null && k >= 0)
                    {
                        ws.X.View.CopyTo(kept.Inputs[k].View);
                        if (kept.HasPooledGrid) MatchCodes(kept.Inputs[k].View, ws, h, w, kept.MatchCodes[k].View);
                    }
                    Block(blocks[i], blocks[i].Block.Q1, blocks[i].Block.Q2, ws, trace, $"body.{i}.q");
                }
                StopBody();
                return (BodyEndAndTail(ws), kept);
            }
            catch
            {
                kept?.Dispose();
                throw;
            }
        }
    }

    /// <summary>Query path: block 0 at b_high (standard quantizers), blocks 1 .. FirstRefEr−1 with
    /// b_medium weights and b_low activations (qlow), then the RefER blocks against the
    /// reference's kept features. Tracing also records each RefER block's
    /// <c>refer.{j}.argmax</c> (int32 per pooled query position) and <c>refer.{j}.flow</c>
    /// (float32 (u, v) per pixel).</summary>
    public float[] ForwardQuery(ReadOnlySpan<float> lr, int h, int w, DeviceReferenceFeatures reference, ForwardTrace? trace = null)
    {
        var s = Settings;
        if (reference.Inputs.Count != refEr.Length)
            throw new ArgumentException($"the reference keeps {reference.Inputs.Count} RefER inputs, the model has {refEr.Length} RefER blocks");
        lock (gate)
        {
            var ws = Head(lr, h, w);
            StartBody();
            Block(blocks[0], blocks[0].Block.Q1, blocks[0].Block.Q2, ws, trace, "body.0.q");
            for (int i = 1; i < s.FirstRefEr; i++)
            {
                var b = lowBlocks[i]!;
                if (b.Block.QLow1 is null || b.Block.QLow2 is null) throw new InvalidOperationException($"block {i} has no query-path (qlow) quantizers");
                Block(b, b.Block.QLow1, b.Block.QLow2, ws, trace, $"body.{i}.qlow");
            }
            for (int k = 0; k < refEr.Length; k++) RefEr(refEr[k], ws, reference, k, trace);
            StopBody();
            return BodyEndAndTail(ws);
        }
    }

    /// <summary>Steps 1–3 of <paramref name="feature"/> (h x w) into <paramref name="codes"/>.</summary>
    void MatchCodes(ArrayView<float> feature, Workspace ws, int h, int w, ArrayView<int> codes)
    {
        var unit = Quantizer.Symmetric(1f, Settings.BLow);
        K.RefEr.PooledCodes(feature, ws.Norms.View, codes, h, w, ch, new QuantizerArgs(unit.Lo, unit.Hi, unit.S, unit.Zp, unit.QLo, unit.QHi));
    }

    /// <summary>ws.X ← RefER(ws.X, reference input k) (RefErBlock.Forward): ws.Y holds the
    /// warped reference and then Fq − Fw, ws.Z the first conv's output.</summary>
    void RefEr(DeviceRefErBlock b, Workspace ws, DeviceReferenceFeatures reference, int k, ForwardTrace? trace)
    {
        int h = ws.Height, w = ws.Width, pqh = h / 3, pqw = w / 3;
        // no pooled grid on either side: the block passes the query through (docs/refqsr.md step 5)
        if (pqh == 0 || pqw == 0 || !reference.HasPooledGrid) return;
        var s = Settings;
        var r = K.RefEr;
        int j = b.Block.Index;
        MatchCodes(ws.X.View, ws, h, w, ws.MatchCodes.View);
        r.Argmax(ws.MatchCodes.View, reference.MatchCodes[k].View, ws.Argmax.View, pqh * pqw, reference.PooledHeight * reference.PooledWidth, ch);
        r.PooledFlow(ws.Argmax.View, ws.PooledFlow.View, pqh, pqw, reference.PooledWidth);
        r.FlowUpsample(ws.PooledFlow.View, ws.Flow.View, pqh, pqw, h, w, FlowUpsample.PoolFactor);
        r.Warp(reference.Inputs[k].View, ws.Flow.View, ws.Y.View, reference.Height, reference.Width, h, w, ch);
        r.SubtractFrom(ws.X.View, ws.Y.View);
        if (trace is not null)
        {
            K.Synchronize();
            trace.Record($"refer.{j}.argmax", MemoryMarshal.AsBytes(ws.Argmax.View.SubView(0, pqh * pqw).GetAsArray1D().AsSpan()).ToArray());
            trace.Record($"refer.{j}.flow", MemoryMarshal.AsBytes(ws.Flow.View.SubView(0, 2L * h * w).GetAsArray1D().AsSpan()).ToArray());
        }
        // out = Fq + QConv2(PReLU(QConv1(Fq − Fw))), both convs at b_high
        QuantConv(b.Quant1, b.Block.Q1, s.BHigh, ws.Y, ws.Z, ws, trace, $"refer.{j}.q1");
        K.PRelu(ws.Z.View, b.Block.Slope);
        QuantConv(b.Quant2, b.Block.Q2, s.BHigh, ws.Z, ws.Y, ws, trace, $"refer.{j}.q2");
        K.Add(ws.X.View, ws.Y.View);
    }
}
