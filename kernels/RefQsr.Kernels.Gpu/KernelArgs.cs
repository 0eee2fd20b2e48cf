namespace RefQsr.Kernels.Gpu;

/// <summary>Geometry of an integer 3x3 conv on packed codes: every 4 input channels are one
/// int (byte k = channel 4g + k), so <see cref="InChannels"/> is a multiple of 4.
/// <see cref="Batch"/> samples of Height x Width lie one after the other (NHWC); each is
/// zero-padded on its own, so a batch gives the same integers as its samples one by one.
/// The weights are a <see cref="PackedWeights"/> stream at <see cref="WeightBits"/>.</summary>
public readonly struct QuantConvDims(int height, int width, int inChannels, int outChannels, int batch = 1, int weightBits = 8)
{
    public readonly int Height = height, Width = width, InChannels = inChannels, OutChannels = outChannels, Batch = batch, WeightBits = weightBits;
    public int Words => InChannels / 4;
    public int SamplePixels => Height * Width;
    public int Outputs => Batch * Height * Width * OutChannels;
}

/// <summary>The zero points and the one float scale of the conv epilogue
/// (docs/integer-arithmetic.md): total = acc + zw·Σa + za·Σw + za·zw·|V|·Cin, y = (float)total·scale.</summary>
public readonly struct QuantZeroPoints(int za, int zw, float scale)
{
    public readonly int Za = za, Zw = zw;
    public readonly float Scale = scale;
}

/// <summary>One activation quantizer as the kernels see it: code = clamp(round(clip(x, Lo, Hi)·S − Zp), QLo, QHi),
/// stored unsigned as code − QLo.</summary>
public readonly struct QuantizerArgs(float lo, float hi, float s, float zp, int qlo, int qhi)
{
    public readonly float Lo = lo, Hi = hi, S = s, Zp = zp;
    public readonly int QLo = qlo, QHi = qhi;
}

/// <summary>Summation order of the FP32 conv, chosen to match the CPU kernel that runs the
/// same weights (FloatConvWeights.Scheme): tap-major (ky, kx, ci) for the broadcast paths,
/// channel-major (ci, ky, kx) for the few-output-channel pixel-vector path.</summary>
public enum FloatConvOrder { TapMajor = 0, ChannelMajor = 1 }

/// <summary>Geometry of a stride-1 "same" FP32 conv (odd kernel, zero padding, no bias) on
/// <see cref="Batch"/> NHWC samples, each padded on its own.</summary>
public readonly struct FloatConvDims(int height, int width, int inChannels, int outChannels, int kernel, FloatConvOrder order, int batch = 1)
{
    public readonly int Height = height, Width = width, InChannels = inChannels, OutChannels = outChannels, Kernel = kernel, Batch = batch;
    public readonly int ChannelMajor = order == FloatConvOrder.ChannelMajor ? 1 : 0;
    public int Outputs => Batch * Height * Width * OutChannels;
}

/// <summary>Which quantizer or epilogue constants a batched kernel uses: the shared ones
/// (<see cref="PerSample"/> 0) or entry <c>index / ItemsPerSample</c> of a per-sample array
/// (DDTB's gated quantizers differ per patch).</summary>
public readonly struct SampleSelect(int perSample, int itemsPerSample)
{
    public readonly int PerSample = perSample, ItemsPerSample = itemsPerSample;
    public static SampleSelect Shared => new(0, 1);
    public int Of(int index) => PerSample != 0 ? index / ItemsPerSample : -1;
}

/// <summary>Geometry of a small integer conv on unpacked codes (ClustBlock): any kernel,
/// stride and zero padding, output OutHeight x OutWidth.</summary>
public readonly struct StridedConvDims(int height, int width, int inChannels, int outChannels, int kernel, int stride, int pad)
{
    public readonly int Height = height, Width = width, InChannels = inChannels, OutChannels = outChannels, Kernel = kernel, Stride = stride, Pad = pad;
    public int OutHeight => OutputSize(Height);
    public int OutWidth => OutputSize(Width);
    public int Outputs => OutHeight * OutWidth * OutChannels;
    int OutputSize(int size) => size + 2 * Pad - Kernel < 0 ? 0 : (size + 2 * Pad - Kernel) / Stride + 1;
}

/// <summary>The FP32 steps a conv epilogue runs after dequantising (a ResBlock's BN affine,
/// PReLU, and the residual add into the block's input), each rounding as the CPU engine's
/// separate passes: y = v·A[c] + B[c] (a multiply, then an add: never one FMA), then
/// y = y > 0 ? y : slope·y, then out = out + y.</summary>
public readonly struct EpilogueSteps(bool affine, bool prelu, float slope, bool accumulate)
{
    public readonly int Affine = affine ? 1 : 0, PRelu = prelu ? 1 : 0, Accumulate = accumulate ? 1 : 0;
    public readonly float Slope = slope;
    public static EpilogueSteps None => new(false, false, 0f, false);
}
