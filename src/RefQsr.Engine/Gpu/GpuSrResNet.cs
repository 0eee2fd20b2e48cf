using System.Runtime.InteropServices;
using ILGPU;
using ILGPU.Runtime;
using RefQsr.Engine.Networks;
using RefQsr.Engine.Quantization;
using RefQsr.Kernels.Gpu;

namespace RefQsr.Engine.Gpu;

/// <summary>A whole (non-RefQSR) SRResNet forward on one ILGPU accelerator, the same
/// arithmetic as <see cref="SrResNet.Forward"/>: weights are uploaded once, activations stay
/// on the device from the LR input to the HR output. The only host round trips inside a
/// forward are the C channel means of a DDTB-gated quantizer's input (the small gate MLP
/// runs on the host, as on the CPU) and, when tracing, the activation codes.</summary>
internal sealed class GpuSrResNet : IDisposable
{
    public SrResNet Network { get; }
    public GpuDevice Device { get; }
    readonly int ch;
    readonly DeviceFloatConv head, bodyEnd, up0, up1, tail;
    readonly DeviceAffine bodyEndBn;
    readonly DeviceResBlock[] blocks;
    readonly FloatLayers layers;
    Workspace? workspace;
    readonly Lock gate = new();

    public GpuSrResNet(SrResNet network, GpuDevice device)
    {
        if (network.Config.RefQsr is not null)
            throw new NotSupportedException("the GPU backend runs plain SRResNet models; the RefQSR schedule runs on the CPU only (use --device cpu)");
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
    }

    DeviceKernels K => Device.Kernels;

    /// <summary>Super-resolves one HWC RGB image (0..255 floats); returns HWC RGB at 4x, as
    /// <see cref="SrResNet.Forward"/>.</summary>
    public float[] Forward(ReadOnlySpan<float> lr, int h, int w, ForwardTrace? trace = null)
    {
        if (h <= 0 || w <= 0) throw new ArgumentException($"image size {w}x{h} must be positive");
        if (lr.Length != h * w * 3) throw new ArgumentException($"input has {lr.Length} values, expected {h}x{w}x3");
        if ((long)h * w * 16 * ch > int.MaxValue)
            throw new ArgumentException($"a {w}x{h} LR image is too large for one GPU forward (kernels index with 32-bit ints); use patches");
        lock (gate)
        {
            var ws = WorkspaceFor(h, w);
            ((ArrayView<float>)ws.Input.View).CopyFromCPU(lr);
            // head: conv 9x9 → PReLU; x = head output
            K.FloatConv(ws.Input.View, head.Weights.View, ws.HeadOut.View, head.Dims(h, w));
            K.PRelu(ws.HeadOut.View, layers.HeadSlope);
            ws.HeadOut.View.CopyTo(ws.X.View);
            for (int i = 0; i < blocks.Length; i++) Block(blocks[i], ws, h, w, trace, $"body.{i}.q");
            // body end conv + BN + global skip
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
    }

    /// <summary>x ← x + block(x) on the device (ResBlock.Forward).</summary>
    void Block(DeviceResBlock b, Workspace ws, int h, int w, ForwardTrace? trace, string traceName)
    {
        Conv(b, 1, ws.X, ws.Y, ws, h, w, trace, traceName);
        K.Affine(ws.Y.View, b.Bn1.A.View, b.Bn1.B.View, ch);
        K.PRelu(ws.Y.View, b.Block.Slope);
        Conv(b, 2, ws.Y, ws.Z, ws, h, w, trace, traceName);
        K.Affine(ws.Z.View, b.Bn2.A.View, b.Bn2.B.View, ch);
        K.Add(ws.X.View, ws.Z.View);
    }

    void Conv(DeviceResBlock b, int k, MemoryBuffer1D<float, Stride1D.Dense> input, MemoryBuffer1D<float, Stride1D.Dense> output,
        Workspace ws, int h, int w, ForwardTrace? trace, string traceName)
    {
        if (b.IsFloat)
        {
            var f = k == 1 ? b.Float1! : b.Float2!;
            K.FloatConv(input.View, f.Weights.View, output.View, f.Dims(h, w));
            return;
        }
        var q = k == 1 ? b.Quant1! : b.Quant2!;
        var aq = ActivationQuantizer(k == 1 ? b.Block.Q1! : b.Block.Q2!, input, ws, h * w, b.Precision.ActivationBits);
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
            trace.Record(traceName + k, MemoryMarshal.AsBytes(packed.AsSpan()).ToArray());
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
        if (workspace is { } ws && ws.Height == h && ws.Width == w) return ws;
        workspace?.Dispose();
        workspace = null;
        return workspace = new Workspace(Device.Accelerator, h, w, ch);
    }

    public void Dispose()
    {
        workspace?.Dispose();
        foreach (var d in new IDisposable[] { head, bodyEnd, bodyEndBn, up0, up1, tail }) d.Dispose();
        foreach (var b in blocks) b.Dispose();
    }
}
