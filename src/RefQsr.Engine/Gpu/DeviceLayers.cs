using ILGPU;
using ILGPU.Runtime;
using RefQsr.Engine.Networks;
using RefQsr.Engine.Quantization;
using RefQsr.Kernels;
using RefQsr.Kernels.Gpu;

namespace RefQsr.Engine.Gpu;

/// <summary>An FP32 conv's weights on the device, with the summation order of the CPU kernel
/// that runs the same weights (so an AVX-512/FMA CPU and the device compute the same floats).</summary>
internal sealed class DeviceFloatConv : IDisposable
{
    public MemoryBuffer1D<float, Stride1D.Dense> Weights { get; }
    public int InChannels { get; }
    public int OutChannels { get; }
    public int Kernel { get; }
    public FloatConvOrder Order { get; }

    public DeviceFloatConv(Accelerator a, float[] weightsOihw, FloatConvWeights packed)
    {
        Weights = a.Allocate1D(weightsOihw);
        InChannels = packed.InChannels; OutChannels = packed.OutChannels; Kernel = packed.Kernel;
        Order = OrderOf(packed);
    }

    public DeviceFloatConv(Accelerator a, FloatConv conv) : this(a, conv.WeightsOihw, conv.Packed) { }

    /// <summary>The CPU's broadcast paths (TapInOut) sum (ky, kx, ci); its pixel-vector path
    /// for few output channels (OutTapIn, AVX-512) sums (ci, ky, kx).</summary>
    public static FloatConvOrder OrderOf(FloatConvWeights w)
        => w.Scheme == FloatConvWeights.Layout.TapInOut ? FloatConvOrder.TapMajor : FloatConvOrder.ChannelMajor;

    public FloatConvDims Dims(int h, int w, int batch = 1) => new(h, w, InChannels, OutChannels, Kernel, Order, batch);

    public void Dispose() => Weights.Dispose();
}

/// <summary>A per-channel affine (eval BN) on the device.</summary>
internal sealed class DeviceAffine(Accelerator a, Affine affine) : IDisposable
{
    public MemoryBuffer1D<float, Stride1D.Dense> A { get; } = a.Allocate1D(affine.A);
    public MemoryBuffer1D<float, Stride1D.Dense> B { get; } = a.Allocate1D(affine.B);

    public void Dispose()
    {
        A.Dispose();
        B.Dispose();
    }
}

/// <summary>One quantized 3x3 conv at one weight bit-width on the device: the weight codes in
/// [out][tap][in] order packed at their bit-width (<see cref="PackedWeights"/>), the per-tap
/// code sums, and the weight quantizer (its zero point and scale enter the epilogue).</summary>
internal sealed class DeviceQuantConv : IDisposable
{
    public MemoryBuffer1D<int, Stride1D.Dense> Codes { get; }
    public MemoryBuffer1D<int, Stride1D.Dense> TapSums { get; }
    public Quantizer WeightQuantizer { get; }
    /// <summary>Bits per stored weight code.</summary>
    public int Bits { get; }

    public DeviceQuantConv(Accelerator a, QuantizedConv conv, int bits)
    {
        var (w, q) = conv.At(bits);
        if (w.InChannels % 4 != 0)
            throw new NotSupportedException($"the GPU backend packs 4 input channels per word; {w.InChannels} channels are not a multiple of 4");
        WeightQuantizer = q;
        Bits = w.Bits;
        Codes = a.Allocate1D(PackedWeights.Pack(w.UnpackOutTapIn(), Bits));
        TapSums = a.Allocate1D(w.TapSums);
    }

    public void Dispose()
    {
        Codes.Dispose();
        TapSums.Dispose();
    }
}

/// <summary>A ResBlock on the device at one precision: integer convs (or FP32 ones for a float
/// model or float precision), both BNs, the PReLU slope and the activation quantizers.</summary>
internal sealed class DeviceResBlock : IDisposable
{
    public ResBlock Block { get; }
    public BlockPrecision Precision { get; }
    public DeviceQuantConv? Quant1 { get; }
    public DeviceQuantConv? Quant2 { get; }
    public DeviceFloatConv? Float1 { get; }
    public DeviceFloatConv? Float2 { get; }
    public DeviceAffine Bn1 { get; }
    public DeviceAffine Bn2 { get; }
    public bool IsFloat => Quant1 is null;

    public DeviceResBlock(Accelerator a, ResBlock b, BlockPrecision prec)
    {
        Block = b;
        Precision = prec;
        if (prec.IsFloat || b.Q1 is null || b.Q2 is null)
        {
            Float1 = new DeviceFloatConv(a, b.Conv1.Master, b.Float1);
            Float2 = new DeviceFloatConv(a, b.Conv2.Master, b.Float2);
        }
        else
        {
            Quant1 = new DeviceQuantConv(a, b.Conv1, prec.WeightBits);
            Quant2 = new DeviceQuantConv(a, b.Conv2, prec.WeightBits);
        }
        Bn1 = new DeviceAffine(a, b.Bn1);
        Bn2 = new DeviceAffine(a, b.Bn2);
    }

    public void Dispose()
    {
        Quant1?.Dispose(); Quant2?.Dispose(); Float1?.Dispose(); Float2?.Dispose();
        Bn1.Dispose(); Bn2.Dispose();
    }
}
