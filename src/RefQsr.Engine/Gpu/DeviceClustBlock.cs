using ILGPU;
using ILGPU.Runtime;
using RefQsr.Engine.Networks;
using RefQsr.Engine.Quantization;
using RefQsr.Kernels;
using RefQsr.Kernels.Gpu;

namespace RefQsr.Engine.Gpu;

/// <summary>RefQSR's ClustBlock on the device, the same arithmetic as
/// <see cref="ClustBlock.Logits"/>: conv1 3→64 stride 3 → ReLU → conv2 → ReLU → conv3 → ReLU →
/// GAP (float64) → fc, each layer quantizing its input at 8 bits. Weights are uploaded once;
/// a patch costs one upload of its LR pixels and one read-back of its C logits (the pairing
/// runs on the host).</summary>
internal sealed class DeviceClustBlock : IDisposable
{
    sealed record Layer(MemoryBuffer1D<int, Stride1D.Dense> Weights, MemoryBuffer1D<float, Stride1D.Dense> Bias, Quantizer Input, Quantizer WeightQuantizer) : IDisposable
    {
        public void Dispose()
        {
            Weights.Dispose();
            Bias.Dispose();
        }
    }

    public ClustBlock Block { get; }
    public GpuDevice Device { get; }
    readonly Layer conv1, conv2, conv3, fc;
    readonly MemoryBuffer1D<float, Stride1D.Dense> pooled, logits;
    // scratch, grown to the largest patch seen
    MemoryBuffer1D<float, Stride1D.Dense>? input, x1, x2, x3;
    MemoryBuffer1D<int, Stride1D.Dense>? codes;
    readonly Lock gate = new();

    public DeviceClustBlock(ClustBlock block, GpuDevice device)
    {
        Block = block;
        Device = device;
        var a = device.Accelerator;
        Layer Upload(int n)
        {
            var (w, wq, aq, bias) = block.LayerAt(n);
            return new Layer(a.Allocate1D(w.Select(v => (int)v).ToArray()), a.Allocate1D(bias), aq, wq);
        }
        conv1 = Upload(1); conv2 = Upload(2); conv3 = Upload(3); fc = Upload(4);
        pooled = a.Allocate1D<float>(ClustBlock.Conv3Out);
        logits = a.Allocate1D<float>(block.Classes);
    }

    DeviceKernels K => Device.Kernels;

    /// <summary>The C class logits of one LR patch (HWC RGB floats in 0..255), as <see cref="ClustBlock.Logits"/>.</summary>
    public float[] Logits(ReadOnlySpan<float> lr, int height, int width)
    {
        if (height <= 0 || width <= 0) throw new ArgumentException($"ClustBlock: patch size {width}x{height} must be positive");
        if (lr.Length != height * width * 3) throw new ArgumentException($"ClustBlock: input has {lr.Length} values, expected {height}x{width}x3");
        lock (gate)
        {
            var d1 = new StridedConvDims(height, width, 3, ClustBlock.Conv1Out, 3, ClustBlock.Stride, 0);
            int oh = d1.OutHeight, ow = d1.OutWidth;
            if (oh > 0 && ow > 0)
            {
                int pixels = oh * ow;
                Grow(ref input, lr.Length);
                Grow(ref x1, pixels * ClustBlock.Conv1Out);
                Grow(ref x2, pixels * ClustBlock.Conv2Out);
                Grow(ref x3, pixels * ClustBlock.Conv3Out);
                Grow(ref codes, Math.Max(lr.Length, pixels * ClustBlock.Conv2Out));
                ((ArrayView<float>)input!.View).SubView(0, lr.Length).CopyFromCPU(lr);
                Conv(conv1, input.View, lr.Length, x1!.View, d1, relu: true);
                Conv(conv2, x1.View, pixels * ClustBlock.Conv1Out, x2!.View, new StridedConvDims(oh, ow, ClustBlock.Conv1Out, ClustBlock.Conv2Out, 3, 1, 1), relu: true);
                Conv(conv3, x2.View, pixels * ClustBlock.Conv2Out, x3!.View, new StridedConvDims(oh, ow, ClustBlock.Conv2Out, ClustBlock.Conv3Out, 3, 1, 1), relu: true);
                K.ChannelMeans(x3.View, pooled.View, pixels, ClustBlock.Conv3Out);
            }
            else
            {
                // no conv1 output: the pooled features are 0 (ClustBlock.Logits)
                pooled.MemSetToZero();
                Grow(ref codes, ClustBlock.Conv3Out);
            }
            Conv(fc, pooled.View, ClustBlock.Conv3Out, logits.View, new StridedConvDims(1, 1, ClustBlock.Conv3Out, Block.Classes, 1, 1, 0), relu: false);
            var result = new float[Block.Classes];
            K.Synchronize();
            logits.View.CopyToCPU(result);
            return result;
        }
    }

    void Conv(Layer l, ArrayView<float> x, int count, ArrayView<float> output, StridedConvDims d, bool relu)
    {
        var q = l.Input;
        K.Clust.Quantize(x, codes!.View, count, new QuantizerArgs(q.Lo, q.Hi, q.S, q.Zp, q.QLo, q.QHi));
        K.Clust.Conv(codes.View, l.Weights.View, l.Bias.View, output, d, q.UnsignedZero, (int)l.WeightQuantizer.Zp, 1f / (q.S * l.WeightQuantizer.S), relu);
    }

    void Grow<T>(ref MemoryBuffer1D<T, Stride1D.Dense>? buffer, long length) where T : unmanaged
    {
        if (buffer is not null && buffer.Length >= length) return;
        buffer?.Dispose();
        buffer = Device.Accelerator.Allocate1D<T>(length);
    }

    public void Dispose()
    {
        foreach (var l in new[] { conv1, conv2, conv3, fc }) l.Dispose();
        foreach (var b in new IDisposable?[] { pooled, logits, input, x1, x2, x3, codes }) b?.Dispose();
    }
}
