using ILGPU;
using ILGPU.Runtime;

namespace RefQsr.Kernels.Gpu;

/// <summary>The ClustBlock's kernels (<see cref="ClustBlockKernels"/>) loaded on one
/// accelerator with its <see cref="IDeviceMath"/>; its global average pool is
/// <see cref="DeviceKernels.ChannelMeans"/> (the same float64 mean).</summary>
public sealed class ClustKernels
{
    readonly Action<Index1D, ArrayView<float>, ArrayView<int>, QuantizerArgs> quantize;
    readonly Action<Index1D, ArrayView<int>, ArrayView<int>, ArrayView<float>, ArrayView<float>, StridedConvDims, int, int, float, int> conv;

    ClustKernels(Action<Index1D, ArrayView<float>, ArrayView<int>, QuantizerArgs> quantize,
        Action<Index1D, ArrayView<int>, ArrayView<int>, ArrayView<float>, ArrayView<float>, StridedConvDims, int, int, float, int> conv)
    {
        this.quantize = quantize;
        this.conv = conv;
    }

    public static ClustKernels Load<TMath>(Accelerator a) where TMath : struct, IDeviceMath
        => new(a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<int>, QuantizerArgs>(ClustBlockKernels.Quantize<TMath>),
               a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<int>, ArrayView<int>, ArrayView<float>, ArrayView<float>, StridedConvDims, int, int, float, int>(ClustBlockKernels.Conv<TMath>));

    /// <summary>One unsigned code per int for the first <paramref name="count"/> values of x.</summary>
    public void Quantize(ArrayView<float> x, ArrayView<int> codes, int count, QuantizerArgs q)
    {
        if (count <= 0 || x.Length < count || codes.Length < count) throw new ArgumentException("ClustBlock quantize: a buffer is smaller than the count");
        quantize(count, x, codes, q);
    }

    /// <summary>output = act((float)total·scale + bias), see <see cref="ClustBlockKernels.Conv{TMath}"/>.</summary>
    public void Conv(ArrayView<int> codes, ArrayView<int> weights, ArrayView<float> bias, ArrayView<float> output,
        StridedConvDims d, int za, int zw, float scale, bool relu)
    {
        if (d.InChannels <= 0 || d.OutChannels <= 0 || d.Kernel <= 0 || d.Stride <= 0 || d.Pad < 0)
            throw new ArgumentException($"ClustBlock conv: {d.InChannels}→{d.OutChannels}, kernel {d.Kernel}, stride {d.Stride}, pad {d.Pad} is not a valid conv");
        if (d.Outputs == 0) throw new ArgumentException($"ClustBlock conv: a {d.Width}x{d.Height} input has no output");
        if (codes.Length < (long)d.Height * d.Width * d.InChannels || weights.Length < (long)d.OutChannels * d.InChannels * d.Kernel * d.Kernel
            || bias.Length < d.OutChannels || output.Length < d.Outputs)
            throw new ArgumentException("ClustBlock conv: a buffer is smaller than the shape needs");
        conv(d.Outputs, codes, weights, bias, output, d, za, zw, scale, relu ? 1 : 0);
    }
}
