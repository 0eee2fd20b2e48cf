using System.Diagnostics;
using System.Runtime.InteropServices;
using ILGPU;
using ILGPU.Runtime;
using RefQsr.Engine.Networks;
using RefQsr.Engine.Quantization;
using RefQsr.Kernels.Gpu;

namespace RefQsr.Engine.Gpu;

/// <summary>A whole SRResNet forward on one ILGPU accelerator, the same arithmetic as
/// <see cref="SrResNet.Forward"/> (and, for RefQSR models, as the reference and query paths:
/// GpuSrResNet.RefQsr.cs): weights are uploaded once, activations stay on the device from
/// the LR input to the HR output. The only host round trips inside a forward are the C
/// channel means of a DDTB-gated quantizer's input (the small gate MLP runs on the host, as
/// on the CPU) and, when tracing, the activation codes.</summary>
internal sealed partial class GpuSrResNet : IDisposable
{
    /// <summary>Workspaces kept at once: a patch grid has at most four patch sizes (interior,
    /// and the stretched last column, last row and corner).</summary>
    const int MaxWorkspaces = 4;

    public SrResNet Network { get; }
    public GpuDevice Device { get; }
    readonly int ch;
    readonly DeviceFloatConv head, bodyEnd, up0, up1, tail;
    readonly DeviceAffine bodyEndBn;
    /// <summary>Every block at the model's precision (b_high for a RefQSR model).</summary>
    readonly DeviceResBlock[] blocks;
    readonly FloatLayers layers;
    readonly Dictionary<(int H, int W), Workspace> workspaces = [];
    readonly Lock gate = new();

    public GpuSrResNet(SrResNet network, GpuDevice device)
    {
        Network = network;
        Device = device;
        ch = network.Config.Channels;
        if (ch % 4 != 0) throw new NotSupportedException($"the GPU backend needs a channel count that is a multiple of 4, the model has {ch}");
        var a = device.Accelerator;
        layers = network.Layers;
        head = new DeviceFloatConv(a, layers.Head);
        bodyEnd = new DeviceFloatConv(a, layers.BodyEnd);
        bodyEndBn = new DeviceAffine(a, layers.BodyEndBn);
        up0 = new DeviceFloatConv(a, layers.Up0);
        up1 = new DeviceFloatConv(a, layers.Up1);
        tail = new DeviceFloatConv(a, layers.Tail);
        blocks = network.Blocks.Select(b => new DeviceResBlock(a, b, network.DefaultPrecision)).ToArray();
        (lowBlocks, refEr) = network.Config.RefQsr is { } s ? UploadQueryPath(a, s) : ([], []);
    }

    DeviceKernels K => Device.Kernels;

    /// <summary>When set, accumulates the time of the quantised body (the ResBlocks, and RefER on
    /// the query path) with a device synchronisation on each side (benchmarks only: the
    /// synchronisations cost a little).</summary>
    public Stopwatch? BodyTimer { get; set; }

    void StartBody()
    {
        if (BodyTimer is null) return;
        K.Synchronize();
        BodyTimer.Start();
    }

    void StopBody()
    {
        if (BodyTimer is null) return;
        K.Synchronize();
        BodyTimer.Stop();
    }

    /// <summary>Device bytes a batch may use for its activations (the workspace); larger batches
    /// run in chunks. 4 GiB by default: 37 patches of 96x96 px at 64 channels.</summary>
    public long MaxBatchBytes { get; set; } = 4L << 30;

    /// <summary>The most h x w samples one batch holds: <see cref="MaxBatchBytes"/>, 32-bit kernel
    /// indices over the largest batch buffer (the second upsampler stage, 16·C values per LR
    /// pixel), and CUDA's 65535 grid blocks along z (output-channel blocks x samples; the
    /// upsampler convs have the most: 4·C channels in blocks of 8).</summary>
    public int MaxBatch(int h, int w)
    {
        long byMemory = MaxBatchBytes / Workspace.BytesPerSample(h, w, ch);
        long byIndex = int.MaxValue / ((long)h * w * Math.Max(16 * ch, 48));
        long byGrid = DeviceKernels.MaxGridZ / FloatConvTiledKernel.OutBlocks(4 * ch, FloatConvOrder.TapMajor);
        return (int)Math.Clamp(Math.Min(Math.Min(byMemory, byIndex), byGrid), 1, int.MaxValue);
    }

    /// <summary>Super-resolves one HWC RGB image (0..255 floats); returns HWC RGB at 4x, as
    /// <see cref="SrResNet.Forward"/>.</summary>
    public float[] Forward(ReadOnlySpan<float> lr, int h, int w, ForwardTrace? trace = null)
        => ForwardBatch(lr, 1, h, w, trace)[0];

    /// <summary>Super-resolves <paramref name="count"/> HWC RGB images of h x w, one after the other
    /// in <paramref name="lr"/>, in batches of at most <see cref="MaxBatch"/>: one kernel launch per
    /// layer for the whole batch, each image zero-padded on its own, so every HR output is the
    /// one <see cref="Forward"/> gives for that image alone. Tracing needs a batch of one.</summary>
    public float[][] ForwardBatch(ReadOnlySpan<float> lr, int count, int h, int w, ForwardTrace? trace = null)
    {
        CheckBatch(lr, count, h, w, trace);
        return RunBatches(lr, count, h, w, (ws, _) =>
        {
            for (int i = 0; i < blocks.Length; i++) Block(blocks[i], blocks[i].Block.Q1, blocks[i].Block.Q2, ws, trace, $"body.{i}.q");
        });
    }

    /// <summary>The batch loop of every forward (inputs already checked): per chunk of at most
    /// <see cref="MaxBatch"/> images, upload and head, <paramref name="body"/> (the blocks, given the
    /// workspace and the chunk's first image, between the body timer's synchronisations), body
    /// end and tail.</summary>
    float[][] RunBatches(ReadOnlySpan<float> lr, int count, int h, int w, Action<Workspace, int> body)
    {
        var hr = new float[count][];
        lock (gate)
        {
            int chunk = MaxBatch(h, w);
            for (int first = 0; first < count; first += chunk)
            {
                int n = Math.Min(chunk, count - first);
                var ws = Head(lr.Slice(first * h * w * 3, n * h * w * 3), n, h, w);
                StartBody();
                body(ws, first);
                StopBody();
                BodyEndAndTail(ws).CopyTo(hr, first);
            }
        }
        return hr;
    }

    void CheckBatch(ReadOnlySpan<float> lr, int count, int h, int w, ForwardTrace? trace)
    {
        if (trace is not null && count > 1) throw new ArgumentException("tracing records one image: trace a batch of one");
        if (h <= 0 || w <= 0) throw new ArgumentException($"image size {w}x{h} must be positive");
        if (count <= 0) throw new ArgumentException($"a batch needs at least one image, not {count}");
        if ((long)h * w * 16 * ch > int.MaxValue)
            throw new ArgumentException($"a {w}x{h} LR image is too large for one GPU forward (kernels index with 32-bit ints); use patches");
        if (lr.Length != (long)count * h * w * 3) throw new ArgumentException($"input has {lr.Length} values, expected {count} x {h}x{w}x3");
    }

    /// <summary>Uploads <paramref name="n"/> LR inputs and runs the head: ws.HeadOut and ws.X hold its output.</summary>
    Workspace Head(ReadOnlySpan<float> lr, int n, int h, int w)
    {
        var ws = WorkspaceFor(h, w, n);
        ws.Count = n;
        ws.Input.CopyFromCPU(lr);
        // head: conv 9x9 → PReLU; x = head output
        K.FloatConv(ws.Input, head.Weights.View, ws.HeadOut, head.Dims(h, w, n));
        K.PRelu(ws.HeadOut, layers.HeadSlope);
        ws.HeadOut.CopyTo(ws.X);
        return ws;
    }

    /// <summary>Body end conv + BN + global skip, upsampler and tail on ws.X; returns each sample's HR floats.</summary>
    float[][] BodyEndAndTail(Workspace ws)
    {
        int h = ws.Height, w = ws.Width, n = ws.Count;
        K.FloatConv(ws.X, bodyEnd.Weights.View, ws.Y, bodyEnd.Dims(h, w, n));
        K.Affine(ws.Y, bodyEndBn.A.View, bodyEndBn.B.View, ch);
        K.Add(ws.Y, ws.HeadOut);
        // upsampler: [conv → PixelShuffle(2) → PReLU] x2, then the tail; a pixel shuffle of the
        // batch is that of its samples stacked as one tall image
        K.FloatConv(ws.Y, up0.Weights.View, ws.Up0, up0.Dims(h, w, n));
        K.PixelShuffle(ws.Up0, ws.Shuffled0, n * h, w, 4 * ch, 2);
        K.PRelu(ws.Shuffled0, layers.Up0Slope);
        K.FloatConv(ws.Shuffled0, up1.Weights.View, ws.Up1, up1.Dims(2 * h, 2 * w, n));
        K.PixelShuffle(ws.Up1, ws.Shuffled1, n * 2 * h, 2 * w, 4 * ch, 2);
        K.PRelu(ws.Shuffled1, layers.Up1Slope);
        K.FloatConv(ws.Shuffled1, tail.Weights.View, ws.Hr, tail.Dims(4 * h, 4 * w, n));
        var all = new float[n * h * w * 48];
        K.Synchronize();
        ws.Hr.CopyToCPU(all);
        var hr = new float[n][];
        for (int i = 0; i < n; i++) hr[i] = all.AsSpan(i * h * w * 48, h * w * 48).ToArray();
        return hr;
    }

    /// <summary>x ← x + block(x) on the device for every sample (ResBlock.Forward), quantizing the
    /// conv inputs with <paramref name="q1"/> and <paramref name="q2"/> (null for a float block).
    /// An integer block runs BN1 and PReLU inside conv1's epilogue and BN2 and the residual add
    /// inside conv2's (the same roundings as the separate passes); unless q2 is gated, conv1's
    /// epilogue also writes conv2's input codes, and only them.</summary>
    void Block(DeviceResBlock b, ActivationQuantizer? q1, ActivationQuantizer? q2, Workspace ws, ForwardTrace? trace, string traceName)
    {
        int h = ws.Height, w = ws.Width, n = ws.Count;
        if (!b.IsFloat)
        {
            int bits = b.Precision.ActivationBits;
            bool fuse = !q2!.IsGated;
            QuantConv(b.Quant1!, q1!, bits, ws.X, ws.Y, ws, trace, traceName + "1", (b.Bn1.A.View, b.Bn1.B.View), b.Block.Slope, fuseNext: fuse ? q2 : null);
            QuantConv(b.Quant2!, q2, bits, ws.Y, ws.X, ws, trace, traceName + "2", (b.Bn2.A.View, b.Bn2.B.View), accumulate: true, codesReady: fuse);
            return;
        }
        K.FloatConv(ws.X, b.Float1!.Weights.View, ws.Y, b.Float1.Dims(h, w, n));
        K.Affine(ws.Y, b.Bn1.A.View, b.Bn1.B.View, ch);
        K.PRelu(ws.Y, b.Block.Slope);
        K.FloatConv(ws.Y, b.Float2!.Weights.View, ws.Z, b.Float2.Dims(h, w, n));
        K.Affine(ws.Z, b.Bn2.A.View, b.Bn2.B.View, ch);
        K.Add(ws.X, ws.Z);
    }

    /// <summary>Quantize the input at <paramref name="bits"/>, integer conv, epilogue: output = conv(input)
    /// (with the fused steps of <see cref="DeviceKernels.QuantConvEpilogue"/>), for every sample of
    /// the batch. A gated quantizer differs per sample: its channel means are computed on the
    /// device and read back once for the whole batch, the gates run on the host, and the
    /// per-sample quantizers go back in one copy. With <paramref name="fuseNext"/> (the next
    /// conv's quantizer, not gated) the epilogue writes that conv's codes into ws.Codes instead
    /// of the float output; that conv then passes <paramref name="codesReady"/>.</summary>
    void QuantConv(DeviceQuantConv q, ActivationQuantizer activation, int bits, ArrayView<float> input,
        ArrayView<float> output, Workspace ws, ForwardTrace? trace, string traceName,
        (ArrayView<float> A, ArrayView<float> B)? affine = null, float? preluSlope = null, bool accumulate = false,
        ActivationQuantizer? fuseNext = null, bool codesReady = false)
    {
        int h = ws.Height, w = ws.Width, n = ws.Count;
        var wq = q.WeightQuantizer;
        var dims = new QuantConvDims(h, w, ch, ch, n, q.Bits);
        if (fuseNext is { IsGated: true }) throw new InvalidOperationException("a gated quantizer cannot be fused into the previous epilogue");
        if (codesReady && activation.IsGated) throw new InvalidOperationException("ready codes come from a fused epilogue, which a gated quantizer cannot use");
        (ArrayView<int>, QuantizerArgs)? next = fuseNext is null ? null : (ws.Codes, Args(fuseNext.ForMeans(default, bits)));
        QuantZeroPoints zeroPoints;
        ArrayView<QuantZeroPoints>? perSample = null;
        if (!activation.IsGated)
        {
            var aq = activation.ForMeans(default, bits);
            if (!codesReady) K.Quantize(input, ws.Codes, Args(aq));
            zeroPoints = ZeroPoints(aq, wq);
        }
        else
        {
            var (args, zs) = GatedQuantizers(activation, input, ws, bits, wq);
            K.Quantize(input, ws.Codes, args[0], ws.Quantizers, n);
            (zeroPoints, perSample) = (zs[0], ws.ZeroPoints);
        }
        if (trace is not null)
        {
            // before the epilogue: a fused one overwrites the codes with the next conv's
            var packed = new int[n * h * w * ch / 4];
            K.Synchronize();
            ws.Codes.CopyToCPU(packed);
            trace.Record(traceName, MemoryMarshal.AsBytes(packed.AsSpan()).ToArray());
        }
        K.QuantConvAccumulate(ws.Codes, q.Codes.View, ws.Acc, ws.CodeSums, dims);
        K.QuantConvEpilogue(ws.CodeSums, ws.Acc, q.TapSums.View, output, dims, zeroPoints, perSample, affine, preluSlope, accumulate,
            next, codesOnly: next is not null);
    }

    static QuantizerArgs Args(Quantizer a) => new(a.Lo, a.Hi, a.S, a.Zp, a.QLo, a.QHi);

    static QuantZeroPoints ZeroPoints(Quantizer a, Quantizer w) => new(a.UnsignedZero, (int)w.Zp, 1f / (a.S * w.S));

    /// <summary>Each sample's gated quantizer, also uploaded to ws.Quantizers and ws.ZeroPoints.</summary>
    (QuantizerArgs[] Args, QuantZeroPoints[] ZeroPoints) GatedQuantizers(ActivationQuantizer q, ArrayView<float> input, Workspace ws, int bits, Quantizer wq)
    {
        int n = ws.Count;
        K.ChannelMeans(input, ws.Means, ws.Pixels, ch, n);
        var means = new float[n * ch];
        K.Synchronize();
        ws.Means.CopyToCPU(means);
        var args = new QuantizerArgs[n];
        var zeroPoints = new QuantZeroPoints[n];
        for (int i = 0; i < n; i++)
        {
            var aq = q.ForMeans(means.AsSpan(i * ch, ch), bits);
            args[i] = Args(aq);
            zeroPoints[i] = ZeroPoints(aq, wq);
        }
        ws.Quantizers.CopyFromCPU(args);
        ws.ZeroPoints.CopyFromCPU(zeroPoints);
        return (args, zeroPoints);
    }

    /// <summary>The workspace of h x w samples, grown to hold at least <paramref name="samples"/>.</summary>
    Workspace WorkspaceFor(int h, int w, int samples)
    {
        if (workspaces.TryGetValue((h, w), out var ws))
        {
            if (ws.Capacity >= samples) return ws;
            ws.Dispose();
            workspaces.Remove((h, w));
        }
        if (workspaces.Count >= MaxWorkspaces)
        {
            foreach (var old in workspaces.Values) old.Dispose();
            workspaces.Clear();
        }
        return workspaces[(h, w)] = new Workspace(Device.Accelerator, h, w, ch, samples);
    }

    public void Dispose()
    {
        foreach (var ws in workspaces.Values) ws.Dispose();
        foreach (var d in new IDisposable[] { head, bodyEnd, bodyEndBn, up0, up1, tail }) d.Dispose();
        foreach (var b in blocks.Concat(lowBlocks.OfType<DeviceResBlock>())) b.Dispose();
        foreach (var b in refEr) b.Dispose();
    }
}
