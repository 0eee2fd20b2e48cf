using ILGPU;
using ILGPU.Runtime;

namespace RefQsr.Kernels.Gpu;

/// <summary>The kernels of RefER's matching and warping (docs/refqsr.md steps 1–6) loaded on
/// one accelerator with its <see cref="IDeviceMath"/>; launches are asynchronous on the
/// default stream, like <see cref="DeviceKernels"/>.</summary>
public sealed class RefErKernels
{
    readonly Action<Index1D, ArrayView<float>, ArrayView<float>, int> pixelNorms;
    readonly Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<int>, int, int, QuantizerArgs> pooledCodes;
    readonly Action<Index1D, ArrayView<int>, ArrayView<int>, ArrayView<int>, int, int> argmax;
    readonly Action<Index1D, ArrayView<int>, ArrayView<float>, int, int> pooledFlow;
    readonly Action<Index1D, ArrayView<float>, ArrayView<float>, int, int, int, int, float> upsample;
    readonly Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, int, int> warp;
    readonly Action<Index1D, ArrayView<float>, ArrayView<float>> subtractFrom;

    RefErKernels(
        Action<Index1D, ArrayView<float>, ArrayView<float>, int> pixelNorms,
        Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<int>, int, int, QuantizerArgs> pooledCodes,
        Action<Index1D, ArrayView<int>, ArrayView<int>, ArrayView<int>, int, int> argmax,
        Action<Index1D, ArrayView<int>, ArrayView<float>, int, int> pooledFlow,
        Action<Index1D, ArrayView<float>, ArrayView<float>, int, int, int, int, float> upsample,
        Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, int, int> warp,
        Action<Index1D, ArrayView<float>, ArrayView<float>> subtractFrom)
    {
        this.pixelNorms = pixelNorms; this.pooledCodes = pooledCodes; this.argmax = argmax; this.pooledFlow = pooledFlow;
        this.upsample = upsample; this.warp = warp; this.subtractFrom = subtractFrom;
    }

    /// <summary>Compiles and loads the RefER kernels for <typeparamref name="TMath"/>.</summary>
    public static RefErKernels Load<TMath>(Accelerator a) where TMath : struct, IDeviceMath
        => new(
            a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, int>(MatchCodeKernels.PixelNorms<TMath>),
            a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<int>, int, int, QuantizerArgs>(MatchCodeKernels.PooledCodes<TMath>),
            a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<int>, ArrayView<int>, ArrayView<int>, int, int>(CostVolumeKernel.Argmax<TMath>),
            a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<int>, ArrayView<float>, int, int>(FlowKernels.PooledFlow),
            a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, int, int, int, int, float>(FlowKernels.Upsample<TMath>),
            a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, int, int>(WarpKernel.Warp<TMath>),
            a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>>(ElementwiseKernels.SubtractFrom<TMath>));

    /// <summary>Steps 1–3: the pooled signed codes [floor(H/3)·floor(W/3)][C/4] of an HWC
    /// feature; <paramref name="norms"/> is scratch of H·W floats. <paramref name="unit"/> is
    /// the symmetric b_low quantizer on [−1, 1].</summary>
    public void PooledCodes(ArrayView<float> feature, ArrayView<float> norms, ArrayView<int> codes, int height, int width, int channels, QuantizerArgs unit)
    {
        Require(channels > 0 && channels % 4 == 0, $"RefER matching: {channels} channels are not a multiple of 4");
        Require(height >= 3 && width >= 3, $"RefER matching: a {width}x{height} feature has no 3x3 pooled grid");
        long pixels = (long)height * width;
        int pooledWords = height / 3 * (width / 3) * (channels / 4);
        Require(feature.Length >= pixels * channels && norms.Length >= pixels && codes.Length >= pooledWords,
            "RefER matching: a buffer is smaller than the shape needs");
        pixelNorms((int)pixels, feature, norms, channels);
        pooledCodes(pooledWords, feature, norms, codes, width, channels, unit);
    }

    /// <summary>Step 4: argmax[i] over the reference positions of the code dot product, ties to the lowest.</summary>
    public void Argmax(ArrayView<int> query, ArrayView<int> reference, ArrayView<int> argmax, int queryPositions, int referencePositions, int channels)
    {
        Require(channels > 0 && channels % 4 == 0, $"cost volume: {channels} channels are not a multiple of 4");
        Require(queryPositions > 0 && referencePositions > 0, "cost volume: the query and the reference need at least one position");
        int words = channels / 4;
        Require(query.Length >= (long)queryPositions * words && reference.Length >= (long)referencePositions * words && argmax.Length >= queryPositions,
            "cost volume: a buffer is smaller than the shape needs");
        this.argmax(queryPositions, query, reference, argmax, words, referencePositions);
    }

    /// <summary>Step 5: the pooled displacements of the matches, [pooledHeight][pooledWidth][2].</summary>
    public void PooledFlow(ArrayView<int> argmax, ArrayView<float> flow, int pooledHeight, int pooledWidth, int referencePooledWidth)
    {
        Require(pooledHeight > 0 && pooledWidth > 0 && referencePooledWidth > 0, "pooled flow: sizes must be positive");
        int n = pooledHeight * pooledWidth;
        Require(argmax.Length >= n && flow.Length >= 2L * n, "pooled flow: a buffer is smaller than the shape needs");
        pooledFlow(n, argmax, flow, pooledWidth, referencePooledWidth);
    }

    /// <summary>Step 5: bilinear resize (align_corners=False) of a [height][width][2] field, times <paramref name="factor"/>.</summary>
    public void FlowUpsample(ArrayView<float> flow, ArrayView<float> output, int height, int width, int outHeight, int outWidth, float factor)
    {
        Require(height > 0 && width > 0 && outHeight > 0 && outWidth > 0, $"flow upsample: sizes must be positive ({width}x{height} to {outWidth}x{outHeight})");
        Require(flow.Length >= 2L * height * width && output.Length >= 2L * outHeight * outWidth, "flow upsample: a buffer is smaller than the shape needs");
        upsample(outHeight * outWidth, flow, output, height, width, outHeight, outWidth, factor);
    }

    /// <summary>Step 6: the backward warp of an HWC source by a [height][width][2] pixel flow.</summary>
    public void Warp(ArrayView<float> source, ArrayView<float> flow, ArrayView<float> output, int sourceHeight, int sourceWidth, int height, int width, int channels)
    {
        Require(sourceHeight > 0 && sourceWidth > 0 && height > 0 && width > 0 && channels > 0,
            $"warp: sizes must be positive (source {sourceWidth}x{sourceHeight}, output {width}x{height}, {channels} channels)");
        long n = (long)height * width * channels;
        Require(source.Length >= (long)sourceHeight * sourceWidth * channels && flow.Length >= 2L * height * width && output.Length >= n,
            "warp: a buffer is smaller than the shape needs");
        warp((int)n, source, flow, output, sourceHeight, sourceWidth, width, channels);
    }

    /// <summary>y = x − y over y's length.</summary>
    public void SubtractFrom(ArrayView<float> x, ArrayView<float> y)
    {
        Require(x.Length >= y.Length, "subtract: the first buffer is shorter than the second");
        subtractFrom((int)y.Length, x, y);
    }

    static void Require(bool ok, string message)
    {
        if (!ok) throw new ArgumentException(message);
    }
}
