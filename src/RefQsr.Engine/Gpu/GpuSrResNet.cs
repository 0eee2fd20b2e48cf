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

    /// <summary>Super-resolves one HWC RGB image (0..255 floats); returns HWC RGB at 4x, as
    /// <see cref="SrResNet.Forward"/>.</summary>
    public float[] Forward(ReadOnlySpan<float> lr, int h, int w, ForwardTrace? trace = null)
    {
        lock (gate)
        {
            var ws = Head(lr, h, w);
            StartBody();
            for (int i = 0; i < blocks.Length; i++) Block(blocks[i], blocks[i].Block.Q1, blocks[i].Block.Q2, ws, trace, $"body.{i}.q");
            StopBody();
            return BodyEndAndTail(ws);
        }
    }

    /// <summary>Uploads the LR input and runs the head: ws.HeadOut and ws.X hold its output.</summary>
    Workspace Head(ReadOnlySpan<float> lr, int h, int w)
    {
        if (h <= 0 || w <= 0) throw new ArgumentException($"image size {w}x{h} must be positive");
        if (lr.Length != h * w * 3) throw new ArgumentException($"input has {lr.Length} values, expected {h}x{w}x3");
        if ((long)h * w * 16 * ch > int.MaxValue)
            throw new ArgumentException($"a {w}x{h} LR image is too large for one GPU forward (kernels index with 32-bit ints); use patches");
        var ws = WorkspaceFor(h, w);
        ((ArrayView<float>)ws.Input.View).CopyFromCPU(lr);
        // head: conv 9x9 → PReLU; x = head output
        K.FloatConv(ws.Input.View, head.Weights.View, ws.HeadOut.View, head.Dims(h, w));
        K.PRelu(ws.HeadOut.View, layers.HeadSlope);
        ws.HeadOut.View.CopyTo(ws.X.View);
        return ws;
    }

    /// <summary>Body end conv + BN + global skip, upsampler and tail on ws.X; returns the HR floats.</summary>
    float[] BodyEndAndTail(Workspace ws)
    {
        int h = ws.Height, w = ws.Width;
        K.FloatConv(ws.X.View, bodyEnd.Weights.View, ws.Y.View, bodyEnd.Dims(h, w));
        K.Affine(ws.Y.View, bodyEndBn.A.View, bodyEndBn.B.View, ch);
        K.Add(ws.Y.View, ws.HeadOut.View);
        // upsampler: [conv → PixelShuffle(2) → PReLU] x2, then the tail
        K.FloatConv(ws.Y.View, up0.Weights.View, ws.Up0.View, up0.Dims(h, w));
        K.PixelShuffle(ws.Up0.View, ws.Shuffled0.View, h, w, 4 * ch, 2);
        K.PRelu(ws.Shuffled0.View, layers.Up0Slope);
        K.FloatConv(ws.Shuffled0.View, up1.Weights.View, ws.Up1.View, up1.Dims(2 * h, 2 * w));
        K.PixelShuffle(ws.Up1.View, ws.Shuffled1.View, 2 * h, 2 * w, 4 * ch, 2);
        K.PRelu(ws.Shuffled1.View, layers.Up1Slope);
        K.FloatConv(ws.Shuffled1.View, tail.Weights.View, ws.Hr.View, tail.Dims(4 * h, 4 * w));
        var hr = new float[h * w * 48];
        K.Synchronize();
        ws.Hr.View.CopyToCPU(hr);
        return hr;
    }

    /// <summary>x ← x + block(x) on the device (ResBlock.Forward), quantizing the conv inputs
    /// with <paramref name="q1"/> and <paramref name="q2"/> (null for a float block).</summary>
    void Block(DeviceResBlock b, ActivationQuantizer? q1, ActivationQuantizer? q2, Workspace ws, ForwardTrace? trace, string traceName)
    {
        int h = ws.Height, w = ws.Width;
        if (b.IsFloat)
        {
            K.FloatConv(ws.X.View, b.Float1!.Weights.View, ws.Y.View, b.Float1.Dims(h, w));
        }
        else QuantConv(b.Quant1!, q1!, b.Precision.ActivationBits, ws.X, ws.Y, ws, trace, traceName + "1");
        K.Affine(ws.Y.View, b.Bn1.A.View, b.Bn1.B.View, ch);
        K.PRelu(ws.Y.View, b.Block.Slope);
        if (b.IsFloat)
        {
            K.FloatConv(ws.Y.View, b.Float2!.Weights.View, ws.Z.View, b.Float2.Dims(h, w));
        }
        else QuantConv(b.Quant2!, q2!, b.Precision.ActivationBits, ws.Y, ws.Z, ws, trace, traceName + "2");
        K.Affine(ws.Z.View, b.Bn2.A.View, b.Bn2.B.View, ch);
        K.Add(ws.X.View, ws.Z.View);
    }

    /// <summary>Quantize the input at <paramref name="bits"/>, integer conv, epilogue: output = conv(input).</summary>
    void QuantConv(DeviceQuantConv q, ActivationQuantizer activation, int bits, MemoryBuffer1D<float, Stride1D.Dense> input,
        MemoryBuffer1D<float, Stride1D.Dense> output, Workspace ws, ForwardTrace? trace, string traceName)
    {
        int h = ws.Height, w = ws.Width;
        var aq = ActivationQuantizer(activation, input, ws, h * w, bits);
        var wq = q.WeightQuantizer;
        K.Quantize(input.View, ws.Codes.View, new QuantizerArgs(aq.Lo, aq.Hi, aq.S, aq.Zp, aq.QLo, aq.QHi));
        var dims = new QuantConvDims(h, w, ch, ch);
        K.QuantConvAccumulate(ws.Codes.View, q.Codes.View, ws.Acc.View, dims);
        float scale = 1f / (aq.S * wq.S);
        K.QuantConvEpilogue(ws.Codes.View, ws.Acc.View, q.TapSums.View, output.View, dims, new QuantZeroPoints(aq.UnsignedZero, (int)wq.Zp, scale));
        if (trace is not null)
        {
            var packed = new int[h * w * ch / 4];
            K.Synchronize();
            ws.Codes.View.CopyToCPU(packed);
            trace.Record(traceName, MemoryMarshal.AsBytes(packed.AsSpan()).ToArray());
        }
    }

    /// <summary>The activation quantizer for this sample; a gated one needs the input's channel
    /// means, computed on the device and read back (C floats).</summary>
    Quantizer ActivationQuantizer(ActivationQuantizer q, MemoryBuffer1D<float, Stride1D.Dense> input, Workspace ws, int pixels, int bits)
    {
        if (!q.IsGated) return q.ForMeans(default, bits);
        K.ChannelMeans(input.View, ws.Means.View, pixels, ch);
        var means = new float[ch];
        K.Synchronize();
        ws.Means.View.CopyToCPU(means);
        return q.ForMeans(means, bits);
    }

    Workspace WorkspaceFor(int h, int w)
    {
        if (workspaces.TryGetValue((h, w), out var ws)) return ws;
        if (workspaces.Count >= MaxWorkspaces)
        {
            foreach (var old in workspaces.Values) old.Dispose();
            workspaces.Clear();
        }
        return workspaces[(h, w)] = new Workspace(Device.Accelerator, h, w, ch);
    }

    public void Dispose()
    {
        foreach (var ws in workspaces.Values) ws.Dispose();
        foreach (var d in new IDisposable[] { head, bodyEnd, bodyEndBn, up0, up1, tail }) d.Dispose();
        foreach (var b in blocks.Concat(lowBlocks.OfType<DeviceResBlock>())) b.Dispose();
        foreach (var b in refEr) b.Dispose();
    }
}
