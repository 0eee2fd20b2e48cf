using ILGPU;
using ILGPU.Runtime;

namespace RefQsr.Kernels.Gpu;

/// <summary>Every kernel of this project loaded on one accelerator, instantiated with the
/// accelerator's <see cref="IDeviceMath"/> (CUDA: inline PTX; CPU accelerator: .NET math).
/// Launches are asynchronous on the default stream; call <see cref="Synchronize"/> before
/// reading results on the host.</summary>
public sealed class DeviceKernels
{
    public Accelerator Accelerator { get; }
    /// <summary>RefER's matching and warping kernels (RefQSR queries).</summary>
    public RefErKernels RefEr { get; }
    /// <summary>RefQSR's ClustBlock kernels.</summary>
    public ClustKernels Clust { get; }

    readonly Action<Index1D, ArrayView<int>, ArrayView<int>, ArrayView<int>, ArrayView<int>, QuantConvDims> accumulate;
    readonly Action<KernelConfig, ArrayView<int>, ArrayView<int>, ArrayView<int>, ArrayView<int>, QuantConvDims> accumulateTiled;
    readonly Action<Index1D, ArrayView<int>, ArrayView<int>, ArrayView<int>, ArrayView<float>, QuantConvDims, QuantZeroPoints, ArrayView<QuantZeroPoints>, SampleSelect, ArrayView<float>, ArrayView<float>, EpilogueSteps> epilogue;
    readonly Action<Index1D, ArrayView<int>, ArrayView<int>, ArrayView<int>, ArrayView<float>, QuantConvDims, QuantZeroPoints, ArrayView<QuantZeroPoints>, SampleSelect, ArrayView<float>, ArrayView<float>, EpilogueSteps, ArrayView<int>, QuantizerArgs, int> epilogueCodes;
    readonly Action<Index1D, ArrayView<float>, ArrayView<int>, QuantizerArgs, ArrayView<QuantizerArgs>, SampleSelect> quantize;
    readonly Action<Index1D, ArrayView<float>, ArrayView<float>, int, int> channelMeans;
    readonly Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, FloatConvDims> floatConv;
    readonly Action<KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, FloatConvDims> floatConvTapMajor, floatConvChannelMajor;
    readonly Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, int> affine;
    readonly Action<Index1D, ArrayView<float>, float> prelu;
    readonly Action<Index1D, ArrayView<float>, ArrayView<float>> add;
    readonly Action<Index1D, ArrayView<float>, ArrayView<float>, int, int, int, int> pixelShuffle;

    DeviceKernels(Accelerator a, Loaded k, RefErKernels refEr, ClustKernels clust)
    {
        Accelerator = a;
        RefEr = refEr;
        Clust = clust;
        (accumulate, accumulateTiled, epilogue, epilogueCodes, quantize, channelMeans, floatConv, floatConvTapMajor, floatConvChannelMajor, affine, prelu, add, pixelShuffle) = k;
    }

    record struct Loaded(
        Action<Index1D, ArrayView<int>, ArrayView<int>, ArrayView<int>, ArrayView<int>, QuantConvDims> Accumulate,
        Action<KernelConfig, ArrayView<int>, ArrayView<int>, ArrayView<int>, ArrayView<int>, QuantConvDims> AccumulateTiled,
        Action<Index1D, ArrayView<int>, ArrayView<int>, ArrayView<int>, ArrayView<float>, QuantConvDims, QuantZeroPoints, ArrayView<QuantZeroPoints>, SampleSelect, ArrayView<float>, ArrayView<float>, EpilogueSteps> Epilogue,
        Action<Index1D, ArrayView<int>, ArrayView<int>, ArrayView<int>, ArrayView<float>, QuantConvDims, QuantZeroPoints, ArrayView<QuantZeroPoints>, SampleSelect, ArrayView<float>, ArrayView<float>, EpilogueSteps, ArrayView<int>, QuantizerArgs, int> EpilogueCodes,
        Action<Index1D, ArrayView<float>, ArrayView<int>, QuantizerArgs, ArrayView<QuantizerArgs>, SampleSelect> Quantize,
        Action<Index1D, ArrayView<float>, ArrayView<float>, int, int> ChannelMeans,
        Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, FloatConvDims> FloatConv,
        Action<KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, FloatConvDims> FloatConvTapMajor,
        Action<KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, FloatConvDims> FloatConvChannelMajor,
        Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, int> Affine,
        Action<Index1D, ArrayView<float>, float> PRelu,
        Action<Index1D, ArrayView<float>, ArrayView<float>> Add,
        Action<Index1D, ArrayView<float>, ArrayView<float>, int, int, int, int> PixelShuffle);

    /// <summary>Compiles and loads all kernels (seconds on first use).</summary>
    public static DeviceKernels Load(Accelerator a)
        => a.AcceleratorType == AcceleratorType.Cuda
            ? new(a, LoadWith<CudaMath>(a), RefErKernels.Load<CudaMath>(a), ClustKernels.Load<CudaMath>(a))
            : new(a, LoadWith<HostMath>(a), RefErKernels.Load<HostMath>(a), ClustKernels.Load<HostMath>(a));

    static Loaded LoadWith<TMath>(Accelerator a) where TMath : struct, IDeviceMath
        => new(
            a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<int>, ArrayView<int>, ArrayView<int>, ArrayView<int>, QuantConvDims>(QuantConvKernels.Accumulate<TMath>),
            a.LoadStreamKernel<ArrayView<int>, ArrayView<int>, ArrayView<int>, ArrayView<int>, QuantConvDims>(QuantConvTiledKernel.Accumulate<TMath>),
            a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<int>, ArrayView<int>, ArrayView<int>, ArrayView<float>, QuantConvDims, QuantZeroPoints, ArrayView<QuantZeroPoints>, SampleSelect, ArrayView<float>, ArrayView<float>, EpilogueSteps>(QuantConvKernels.Epilogue<TMath>),
            a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<int>, ArrayView<int>, ArrayView<int>, ArrayView<float>, QuantConvDims, QuantZeroPoints, ArrayView<QuantZeroPoints>, SampleSelect, ArrayView<float>, ArrayView<float>, EpilogueSteps, ArrayView<int>, QuantizerArgs, int>(QuantConvKernels.EpilogueCodes<TMath>),
            a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<int>, QuantizerArgs, ArrayView<QuantizerArgs>, SampleSelect>(QuantizeKernels.Quantize<TMath>),
            a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, int, int>(QuantizeKernels.ChannelMeans),
            a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, FloatConvDims>(FloatConvKernels.Conv<TMath>),
            a.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, FloatConvDims>(FloatConvTiledKernel.TapMajor<TMath>),
            a.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, FloatConvDims>(FloatConvTiledKernel.ChannelMajor<TMath>),
            a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, int>(ElementwiseKernels.Affine<TMath>),
            a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, float>(ElementwiseKernels.PRelu<TMath>),
            a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>>(ElementwiseKernels.Add<TMath>),
            a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, int, int, int, int>(ElementwiseKernels.PixelShuffle));

    public void Synchronize() => Accelerator.Synchronize();

    /// <summary>The most groups a launch may have along z on CUDA (the tiled convs put output-channel
    /// blocks x samples there).</summary>
    public const int MaxGridZ = 65535;

    /// <summary>Integer 3x3 conv accumulators: the shared-memory tiled kernel when the
    /// channels fit (<see cref="QuantConvTiledKernel"/>), else one thread per output
    /// (<see cref="QuantConvKernels.Accumulate{TMath}"/>); both give the same integers, and both
    /// write each pixel's code sum over its valid taps into <paramref name="codeSums"/> for the epilogue.</summary>
    public void QuantConvAccumulate(ArrayView<int> codes, ArrayView<int> weights, ArrayView<int> acc, ArrayView<int> codeSums, QuantConvDims d,
        ConvVariant variant = ConvVariant.Auto)
    {
        Require(d.InChannels % 4 == 0, $"integer conv: {d.InChannels} input channels are not a multiple of 4");
        Require(d.Batch >= 1 && (long)d.Batch * d.Height * d.Width * d.OutChannels <= int.MaxValue, $"integer conv: a batch of {d.Batch} does not fit 32-bit indices");
        Require(d.WeightBits >= 2 && d.WeightBits <= 8, $"integer conv: weights at {d.WeightBits} bits; the device packs 2..8");
        Require(codes.Length >= (long)d.Batch * d.Height * d.Width * d.Words && weights.Length >= PackedWeights.Words(d.OutChannels * 9 * d.InChannels, d.WeightBits) && acc.Length >= d.Outputs
            && codeSums.Length >= (long)d.Batch * d.SamplePixels, "integer conv: a buffer is smaller than the shape needs");
        var tile = QuantConvTiledKernel.Tile(Accelerator.MaxNumThreadsPerGroup);
        bool fits = QuantConvTiledKernel.Fits(d.InChannels, tile);
        Require(variant != ConvVariant.Tiled || fits, $"integer conv: {d.InChannels} input channels do not fit the tiled kernel's shared memory");
        if (variant == ConvVariant.Naive || !fits)
        {
            accumulate(d.Outputs, codes, weights, acc, codeSums, d);
            return;
        }
        Require((long)QuantConvTiledKernel.OutBlocks(d.OutChannels) * d.Batch <= MaxGridZ, $"integer conv: a batch of {d.Batch} needs more than {MaxGridZ} groups along z");
        var config = new KernelConfig(
            new Index3D((d.Width + tile.W - 1) / tile.W, (d.Height + tile.H - 1) / tile.H, QuantConvTiledKernel.OutBlocks(d.OutChannels) * d.Batch),
            new Index3D(tile.W, tile.H, 1),
            SharedMemoryConfig.RequestDynamic<int>(QuantConvTiledKernel.SharedInts(d.InChannels, tile)));
        accumulateTiled(config, codes, weights, acc, codeSums, d);
    }

    /// <summary>Zero-point corrections and scale (see <see cref="QuantConvKernels.Epilogue{TMath}"/>; <paramref name="codeSums"/>
    /// as the accumulate kernels wrote them), with
    /// <paramref name="z"/> for every sample, or with <paramref name="perSample"/>[n] for sample n
    /// when that view is given (one entry per sample of the batch). Then, fused: the affine
    /// y·A[c] + B[c] when <paramref name="affine"/> is given, PReLU when <paramref name="preluSlope"/> is,
    /// and with <paramref name="accumulate"/> the result is added to <paramref name="output"/>
    /// instead of replacing it (see <see cref="EpilogueSteps"/>).</summary>
    /// With <paramref name="next"/>, the final values are also quantized into the next conv's
    /// packed codes (one thread per 4 channels, <see cref="QuantConvKernels.EpilogueCodes{TMath}"/>),
    /// and with <paramref name="codesOnly"/> only those are stored.
    public void QuantConvEpilogue(ArrayView<int> codeSums, ArrayView<int> acc, ArrayView<int> tapSums, ArrayView<float> output, QuantConvDims d, QuantZeroPoints z,
        ArrayView<QuantZeroPoints>? perSample = null, (ArrayView<float> A, ArrayView<float> B)? affine = null, float? preluSlope = null, bool accumulate = false,
        (ArrayView<int> Codes, QuantizerArgs Quantizer)? next = null, bool codesOnly = false)
    {
        Require(!codesOnly || next is not null, "conv epilogue: codesOnly needs the next conv's codes (it would store nothing)");
        Require(next is not { } nc || d.OutChannels % 4 == 0 && nc.Codes.Length >= d.Outputs / 4, "conv epilogue: the next codes need a multiple of 4 channels and a quarter of the outputs");
        Require(tapSums.Length >= d.OutChannels * 9 && output.Length >= d.Outputs && acc.Length >= d.Outputs && codeSums.Length >= (long)d.Batch * d.SamplePixels,
            "conv epilogue: a buffer is smaller than the shape needs");
        Require(affine is not { } ab || ab.A.Length >= d.OutChannels && ab.B.Length >= d.OutChannels, "conv epilogue: the affine has fewer entries than output channels");
        var ops = new EpilogueSteps(affine is not null, preluSlope is not null, preluSlope ?? 0f, accumulate);
        // views the kernel never reads when a step is off still have to be real (CUDA)
        var (a, b) = affine ?? (output, output);
        var zs = perSample ?? tapSums.Cast<QuantZeroPoints>();
        if (next is { } n)
        {
            var words = Select(perSample, d.Batch, d.SamplePixels * d.OutChannels / 4, "conv epilogue");
            epilogueCodes(d.Outputs / 4, codeSums, acc, tapSums, output, d, z, zs, words, a, b, ops, n.Codes, n.Quantizer, codesOnly ? 1 : 0);
            return;
        }
        var select = Select(perSample, d.Batch, d.SamplePixels * d.OutChannels, "conv epilogue");
        epilogue(d.Outputs, codeSums, acc, tapSums, output, d, z, zs, select, a, b, ops);
    }

    /// <summary>Packed unsigned activation codes of x (length a multiple of 4): with <paramref name="q"/>,
    /// or, when <paramref name="perSample"/> is given, with its entry n for sample n of the
    /// <paramref name="samples"/> equal parts of x.</summary>
    public void Quantize(ArrayView<float> x, ArrayView<int> codes, QuantizerArgs q, ArrayView<QuantizerArgs>? perSample = null, int samples = 1)
    {
        Require(x.Length % 4 == 0 && codes.Length >= x.Length / 4, "quantize: input length must be a multiple of 4 and codes hold a quarter of it");
        Require(samples >= 1 && x.Length / 4 % samples == 0, $"quantize: {x.Length} values do not split into {samples} samples of whole words");
        var select = Select(perSample, samples, (int)(x.Length / 4 / samples), "quantize");
        quantize((int)(x.Length / 4), x, codes, q, perSample ?? codes.Cast<QuantizerArgs>(), select);
    }

    /// <summary>The per-sample choice of a batched kernel; without a per-sample view the kernel
    /// gets some valid view it never reads (CUDA needs a real pointer).</summary>
    static SampleSelect Select<T>(ArrayView<T>? perSample, int samples, int itemsPerSample, string what) where T : unmanaged
    {
        if (perSample is not { } v) return SampleSelect.Shared;
        Require(v.Length >= samples, $"{what}: {v.Length} per-sample entries for a batch of {samples}");
        return new SampleSelect(1, itemsPerSample);
    }

    /// <summary>Per-channel means of each of <paramref name="samples"/> NHWC samples (the DDTB gate's
    /// GAP): means[n·C + c], float64 sums in pixel order.</summary>
    public void ChannelMeans(ArrayView<float> x, ArrayView<float> means, int pixels, int channels, int samples = 1)
    {
        Require(x.Length >= (long)samples * pixels * channels && means.Length >= (long)samples * channels, "channel means: a buffer is smaller than the shape needs");
        channelMeans(samples * channels, x, means, pixels, channels);
    }

    /// <summary>FP32 "same" conv: the shared-memory tiled kernel (<see cref="FloatConvTiledKernel"/>)
    /// when its tile fits (and the accelerator is a GPU), else one thread per output (<see cref="FloatConvKernels.Conv{TMath}"/>);
    /// both chain every output's FMAs in the same order, so they give the same floats.</summary>
    public void FloatConv(ArrayView<float> input, ArrayView<float> weightsOihw, ArrayView<float> output, FloatConvDims d,
        ConvVariant variant = ConvVariant.Auto)
    {
        Require(d.Kernel > 0 && d.Kernel % 2 == 1, $"conv: kernel {d.Kernel} must be odd and positive");
        Require(d.Batch >= 1 && (long)d.Batch * d.Height * d.Width * Math.Max(d.InChannels, d.OutChannels) <= int.MaxValue, $"conv: a batch of {d.Batch} does not fit 32-bit indices");
        Require(input.Length >= (long)d.Batch * d.Height * d.Width * d.InChannels && weightsOihw.Length >= (long)d.OutChannels * d.InChannels * d.Kernel * d.Kernel
            && output.Length >= d.Outputs, "conv: a buffer is smaller than the shape needs");
        var tile = FloatConvTiledKernel.Tile(Accelerator.MaxNumThreadsPerGroup);
        bool fits = FloatConvTiledKernel.Fits(d, tile);
        Require(variant != ConvVariant.Tiled || fits, $"conv: a {d.Kernel}x{d.Kernel} {d.InChannels}-channel tile does not fit the tiled kernel's shared memory");
        // ILGPU's CPU accelerator runs a group's barriers with real thread synchronisation,
        // which makes the tiled kernel slower there: Auto picks it on GPUs only (the tests
        // run it explicitly everywhere)
        bool cpuAccelerator = Accelerator.AcceleratorType == AcceleratorType.CPU;
        if (variant == ConvVariant.Naive || !fits || (variant == ConvVariant.Auto && cpuAccelerator))
        {
            floatConv(d.Outputs, input, weightsOihw, output, d);
            return;
        }
        var order = d.ChannelMajor != 0 ? FloatConvOrder.ChannelMajor : FloatConvOrder.TapMajor;
        Require((long)FloatConvTiledKernel.OutBlocks(d.OutChannels, order) * d.Batch <= MaxGridZ, $"conv: a batch of {d.Batch} needs more than {MaxGridZ} groups along z");
        var config = new KernelConfig(
            new Index3D((d.Width + tile.W - 1) / tile.W, (d.Height + tile.H - 1) / tile.H, FloatConvTiledKernel.OutBlocks(d.OutChannels, order) * d.Batch),
            new Index3D(tile.W, tile.H, 1),
            SharedMemoryConfig.RequestDynamic<float>(FloatConvTiledKernel.SharedFloats(d, tile)));
        (order == FloatConvOrder.TapMajor ? floatConvTapMajor : floatConvChannelMajor)(config, input, weightsOihw, output, d);
    }

    public void Affine(ArrayView<float> x, ArrayView<float> a, ArrayView<float> b, int channels)
    {
        Require(channels > 0 && x.Length % channels == 0 && a.Length >= channels && b.Length >= channels, "affine: buffer sizes do not match the channel count");
        affine((int)x.Length, x, a, b, channels);
    }

    public void PRelu(ArrayView<float> x, float slope) => prelu((int)x.Length, x, slope);

    public void Add(ArrayView<float> x, ArrayView<float> y)
    {
        Require(y.Length >= x.Length, "add: the second buffer is shorter than the first");
        add((int)x.Length, x, y);
    }

    public void PixelShuffle(ArrayView<float> input, ArrayView<float> output, int height, int width, int inChannels, int r)
    {
        Require(r > 0 && inChannels % (r * r) == 0, $"pixel shuffle: {inChannels} channels are not a multiple of {r}x{r}");
        long n = (long)height * width * inChannels;
        Require(input.Length >= n && output.Length >= n, "pixel shuffle: buffer too small");
        pixelShuffle((int)n, input, output, height, width, inChannels, r);
    }

    static void Require(bool ok, string message)
    {
        if (!ok) throw new ArgumentException(message);
    }
}

/// <summary>Which conv kernel <see cref="DeviceKernels.QuantConvAccumulate"/> or <see cref="DeviceKernels.FloatConv"/> runs.</summary>
public enum ConvVariant
{
    /// <summary>Tiled when the channels fit its shared memory, else naive.</summary>
    Auto,
    /// <summary>One thread per output, inputs from global memory.</summary>
    Naive,
    /// <summary>Shared-memory tiles (<see cref="QuantConvTiledKernel"/>, <see cref="FloatConvTiledKernel"/>).</summary>
    Tiled,
}
