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
        var (hr, kept) = ForwardReferenceBatch(lr, 1, h, w, [keepFeatures], trace);
        return (hr[0], kept[0]);
    }

    /// <summary><see cref="ForwardReference"/> for <paramref name="count"/> h x w patches, one after the
    /// other in <paramref name="lr"/>, in batches (see <see cref="ForwardBatch"/>); patch i keeps
    /// its features when <paramref name="keep"/>[i]. Tracing needs a batch of one.</summary>
    public (float[][] Hr, DeviceReferenceFeatures?[] Features) ForwardReferenceBatch(ReadOnlySpan<float> lr, int count, int h, int w,
        IReadOnlyList<bool> keep, ForwardTrace? trace = null)
    {
        var s = Settings;
        CheckBatch(lr, count, h, w, trace);
        if (keep.Count != count) throw new ArgumentException($"{keep.Count} keep flags for {count} patches");
        var kept = new DeviceReferenceFeatures?[count];
        try
        {
            for (int j = 0; j < count; j++)
                if (keep[j]) kept[j] = new DeviceReferenceFeatures(Device.Accelerator, h, w, ch, s.RefErBlocks.Count);
            var hr = RunBatches(lr, count, h, w, (ws, first) =>
            {
                for (int i = 0; i < blocks.Length; i++)
                {
                    int k = i - s.FirstRefEr;
                    for (int j = 0; k >= 0 && j < ws.Count; j++)
                    {
                        if (kept[first + j] is not { } f) continue;
                        var x = ws.Sample(ws.X, j, ch);
                        x.CopyTo((ArrayView<float>)f.Inputs[k].View);
                        if (f.HasPooledGrid) MatchCodes(x, ws, h, w, f.MatchCodes[k].View);
                    }
                    Block(blocks[i], blocks[i].Block.Q1, blocks[i].Block.Q2, ws, trace, $"body.{i}.q");
                }
            });
            return (hr, kept);
        }
        catch
        {
            foreach (var f in kept) f?.Dispose();
            throw;
        }
    }

    /// <summary>Query path: block 0 at b_high (standard quantizers), blocks 1 .. FirstRefEr−1 with
    /// b_medium weights and b_low activations (qlow), then the RefER blocks against the
    /// reference's kept features. Tracing also records each RefER block's
    /// <c>refer.{j}.argmax</c> (int32 per pooled query position) and <c>refer.{j}.flow</c>
    /// (float32 (u, v) per pixel).</summary>
    public float[] ForwardQuery(ReadOnlySpan<float> lr, int h, int w, DeviceReferenceFeatures reference, ForwardTrace? trace = null)
        => ForwardQueryBatch(lr, 1, h, w, [reference], trace)[0];

    /// <summary><see cref="ForwardQuery"/> for <paramref name="count"/> h x w patches, one after the other
    /// in <paramref name="lr"/>, patch i against <paramref name="references"/>[i], in batches: the
    /// blocks and RefER's convs run once per batch, RefER's matching and warp per patch.
    /// Tracing needs a batch of one.</summary>
    public float[][] ForwardQueryBatch(ReadOnlySpan<float> lr, int count, int h, int w, IReadOnlyList<DeviceReferenceFeatures> references, ForwardTrace? trace = null)
    {
        var s = Settings;
        CheckBatch(lr, count, h, w, trace);
        if (references.Count != count) throw new ArgumentException($"{references.Count} references for {count} query patches");
        foreach (var r in references)
            if (r.Inputs.Count != refEr.Length)
                throw new ArgumentException($"a reference keeps {r.Inputs.Count} RefER inputs, the model has {refEr.Length} RefER blocks");
        return RunBatches(lr, count, h, w, (ws, first) =>
        {
            Block(blocks[0], blocks[0].Block.Q1, blocks[0].Block.Q2, ws, trace, "body.0.q");
            for (int i = 1; i < s.FirstRefEr; i++)
            {
                var b = lowBlocks[i]!;
                if (b.Block.QLow1 is null || b.Block.QLow2 is null) throw new InvalidOperationException($"block {i} has no query-path (qlow) quantizers");
                Block(b, b.Block.QLow1, b.Block.QLow2, ws, trace, $"body.{i}.qlow");
            }
            for (int k = 0; k < refEr.Length; k++) RefEr(refEr[k], ws, references, first, k, trace);
        });
    }

    /// <summary>Steps 1–3 of <paramref name="feature"/> (one h x w sample) into <paramref name="codes"/>.</summary>
    void MatchCodes(ArrayView<float> feature, Workspace ws, int h, int w, ArrayView<int> codes)
    {
        var unit = Quantizer.Symmetric(1f, Settings.BLow);
        K.RefEr.PooledCodes(feature, ws.Norms, codes, h, w, ch, new QuantizerArgs(unit.Lo, unit.Hi, unit.S, unit.Zp, unit.QLo, unit.QHi));
    }

    /// <summary>ws.X ← RefER(ws.X, reference input k) for every sample of the batch
    /// (RefErBlock.Forward), sample j against <paramref name="references"/>[first + j]: per
    /// sample, ws.Y gets the warped reference and then Fq − Fw; then both convs run on the
    /// whole batch (ws.Z holds the first one's output). A sample whose reference has no pooled
    /// grid passes through unchanged (docs/refqsr.md step 5): its conv output is zeroed before
    /// the residual add, which otherwise runs inside the second conv's epilogue.</summary>
    void RefEr(DeviceRefErBlock b, Workspace ws, IReadOnlyList<DeviceReferenceFeatures> references, int first, int k, ForwardTrace? trace)
    {
        int h = ws.Height, w = ws.Width, n = ws.Count, pqh = h / 3, pqw = w / 3;
        // no pooled grid on the query side: the block passes every query through
        if (pqh == 0 || pqw == 0) return;
        var passThrough = Enumerable.Range(0, n).Where(j => !references[first + j].HasPooledGrid).ToArray();
        if (passThrough.Length == n) return;
        var s = Settings;
        var r = K.RefEr;
        int block = b.Block.Index;
        for (int j = 0; j < n; j++)
        {
            var reference = references[first + j];
            if (!reference.HasPooledGrid) continue;
            var x = ws.Sample(ws.X, j, ch);
            var y = ws.Sample(ws.Y, j, ch);
            MatchCodes(x, ws, h, w, ws.MatchCodes);
            r.Argmax(ws.MatchCodes, reference.MatchCodes[k].View, ws.Argmax, pqh * pqw, reference.PooledHeight * reference.PooledWidth, ch);
            r.PooledFlow(ws.Argmax, ws.PooledFlow, pqh, pqw, reference.PooledWidth);
            r.FlowUpsample(ws.PooledFlow, ws.Flow, pqh, pqw, h, w, FlowUpsample.PoolFactor);
            r.Warp(reference.Inputs[k].View, ws.Flow, y, reference.Height, reference.Width, h, w, ch);
            r.SubtractFrom(x, y);
            if (trace is not null)
            {
                K.Synchronize();
                var argmax = new int[pqh * pqw];
                var flow = new float[2 * h * w];
                ws.Argmax.SubView(0, argmax.Length).CopyToCPU(argmax);
                ws.Flow.SubView(0, flow.Length).CopyToCPU(flow);
                trace.Record($"refer.{block}.argmax", MemoryMarshal.AsBytes(argmax.AsSpan()).ToArray());
                trace.Record($"refer.{block}.flow", MemoryMarshal.AsBytes(flow.AsSpan()).ToArray());
            }
        }
        // out = Fq + QConv2(PReLU(QConv1(Fq − Fw))), both convs at b_high
        bool fuse = !b.Block.Q2.IsGated;
        QuantConv(b.Quant1, b.Block.Q1, s.BHigh, ws.Y, ws.Z, ws, trace, $"refer.{block}.q1", preluSlope: b.Block.Slope, fuseNext: fuse ? b.Block.Q2 : null);
        if (passThrough.Length == 0)
        {
            QuantConv(b.Quant2, b.Block.Q2, s.BHigh, ws.Z, ws.X, ws, trace, $"refer.{block}.q2", accumulate: true, codesReady: fuse);
            return;
        }
        QuantConv(b.Quant2, b.Block.Q2, s.BHigh, ws.Z, ws.Y, ws, trace, $"refer.{block}.q2", codesReady: fuse);
        foreach (int j in passThrough) ws.Sample(ws.Y, j, ch).MemSetToZero();
        K.Add(ws.X, ws.Y);
    }
}
