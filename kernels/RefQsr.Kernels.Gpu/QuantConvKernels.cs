using ILGPU;

namespace RefQsr.Kernels.Gpu;

/// <summary>Device twins of <c>QuantConv3x3</c> and <c>QuantConvEpilogue</c>: the int32
/// accumulation over valid taps (4-way byte dot products, <c>dp4a</c> on CUDA) and the exact
/// zero-point corrections in int64 followed by the one float32 scale. One thread per
/// output (sample, pixel, out channel); integer results are identical to the CPU kernels.</summary>
public static class QuantConvKernels
{
    /// <summary>acc[((n·H + y)·W + x)·Cout + co] = Σ over the valid taps of sample n and the input channels of a·w.
    /// codes: [N][H][W][Cin/4] packed unsigned codes; weights: [Cout][9][Cin] signed codes, a
    /// <see cref="PackedWeights"/> stream (decoded at every read: this is the fallback kernel).
    /// The thread of output channel 0 also writes the pixel's code sum over the valid taps,
    /// codeSums[(n·H + y)·W + x] = Σ_V a, which the epilogue's weight-zero-point term needs.</summary>
    public static void Accumulate<TMath>(Index1D i, ArrayView<int> codes, ArrayView<int> weights, ArrayView<int> acc, ArrayView<int> codeSums, QuantConvDims d)
        where TMath : struct, IDeviceMath
    {
        int co = i % d.OutChannels, p = i / d.OutChannels;
        int n = p / d.SamplePixels, local = p - n * d.SamplePixels;
        int y = local / d.Width, x = local - y * d.Width, words = d.Words, first = n * d.SamplePixels;
        // the thread of channel 0 also sums the codes themselves (a dp4a with all-ones weights)
        bool firstChannel = co == 0;
        int sum = 0, codeSum = 0;
        for (int ky = 0; ky < 3; ky++)
        {
            int iy = y + ky - 1;
            if (iy < 0 || iy >= d.Height) continue;
            for (int kx = 0; kx < 3; kx++)
            {
                int ix = x + kx - 1;
                if (ix < 0 || ix >= d.Width) continue;
                int a0 = (first + iy * d.Width + ix) * words, w0 = (co * 9 + ky * 3 + kx) * words;
                for (int g = 0; g < words; g++)
                {
                    int a = codes[a0 + g];
                    sum = default(TMath).Dot4(a, PackedWeights.Word(weights, d.WeightBits, w0 + g), sum);
                    if (firstChannel) codeSum = default(TMath).Dot4(a, 0x01010101, codeSum);
                }
            }
        }
        acc[i] = sum;
        if (firstChannel) codeSums[p] = codeSum;
    }

    /// <summary>output = (float)(acc + zw·Σ_V a + za·Σ_V w + za·zw·|V|·Cin) · scale, with Σ_V a from
    /// codeSums (written by the accumulate kernels) and Σ_V w from tapSums [Cout][9] over the
    /// valid taps; za and the scale are <paramref name="shared"/>'s or, per
    /// <paramref name="select"/>, the sample's entry of <paramref name="perSample"/>; then the
    /// fused FP32 steps of <paramref name="ops"/> (affine with <paramref name="affineA"/>/<paramref name="affineB"/>).</summary>
    public static void Epilogue<TMath>(Index1D i, ArrayView<int> codeSums, ArrayView<int> acc, ArrayView<int> tapSums,
        ArrayView<float> output, QuantConvDims d, QuantZeroPoints shared, ArrayView<QuantZeroPoints> perSample, SampleSelect select,
        ArrayView<float> affineA, ArrayView<float> affineB, EpilogueSteps ops)
        where TMath : struct, IDeviceMath
    {
        int co = i % d.OutChannels, p = i / d.OutChannels;
        int k = select.Of(i);
        var z = k >= 0 ? perSample[k] : shared;
        float v = Value<TMath>(codeSums, acc, tapSums, d, z, affineA, affineB, ops, p, co);
        output[i] = ops.Accumulate != 0 ? default(TMath).Add(output[i], v) : v;
    }

    /// <summary><see cref="Epilogue{TMath}"/> for the four output channels 4g .. 4g+3 of a pixel
    /// (word = pixel·Cout/4 + g), which also quantizes the four final values with
    /// <paramref name="next"/> into nextCodes[word]: the next conv's input, so its own quantize
    /// pass is skipped. With <paramref name="codesOnly"/> ≠ 0 the floats are not stored (they
    /// have no other reader). The next quantizer is never a gated one (it would need the
    /// whole output's channel means first).</summary>
    public static void EpilogueCodes<TMath>(Index1D word, ArrayView<int> codeSums, ArrayView<int> acc, ArrayView<int> tapSums,
        ArrayView<float> output, QuantConvDims d, QuantZeroPoints shared, ArrayView<QuantZeroPoints> perSample, SampleSelect select,
        ArrayView<float> affineA, ArrayView<float> affineB, EpilogueSteps ops, ArrayView<int> nextCodes, QuantizerArgs next, int codesOnly)
        where TMath : struct, IDeviceMath
    {
        int groups = d.OutChannels / 4, p = word / groups, co0 = (word - p * groups) * 4;
        int k = select.Of(word);
        var z = k >= 0 ? perSample[k] : shared;
        int packed = 0;
        for (int c = 0; c < 4; c++)
        {
            int i = p * d.OutChannels + co0 + c;
            float v = Value<TMath>(codeSums, acc, tapSums, d, z, affineA, affineB, ops, p, co0 + c);
            if (ops.Accumulate != 0) v = default(TMath).Add(output[i], v);
            if (codesOnly == 0) output[i] = v;
            packed |= QuantizeKernels.Code<TMath>(v, next) << (8 * c);
        }
        nextCodes[word] = packed;
    }

    /// <summary>Output channel co of pixel p (batch-wide index): the corrected, scaled value, then
    /// the affine and PReLU of <paramref name="ops"/> (the residual add is the caller's).</summary>
    static float Value<TMath>(ArrayView<int> codeSums, ArrayView<int> acc, ArrayView<int> tapSums, QuantConvDims d, QuantZeroPoints z,
        ArrayView<float> affineA, ArrayView<float> affineB, EpilogueSteps ops, int p, int co)
        where TMath : struct, IDeviceMath
    {
        int n = p / d.SamplePixels, local = p - n * d.SamplePixels;
        int y = local / d.Width, x = local - y * d.Width;
        long sumW = 0;
        int validTaps = 0;
        for (int ky = 0; ky < 3; ky++)
        {
            int iy = y + ky - 1;
            if (iy < 0 || iy >= d.Height) continue;
            for (int kx = 0; kx < 3; kx++)
            {
                int ix = x + kx - 1;
                if (ix < 0 || ix >= d.Width) continue;
                sumW += tapSums[co * 9 + ky * 3 + kx];
                validTaps++;
            }
        }
        long total = acc[p * d.OutChannels + co] + (long)z.Zw * codeSums[p] + (long)z.Za * z.Zw * validTaps * d.InChannels + z.Za * sumW;
        float v = default(TMath).Mul((float)total, z.Scale);
        if (ops.Affine != 0) v = default(TMath).Add(default(TMath).Mul(v, affineA[co]), affineB[co]);
        if (ops.PRelu != 0 && !(v > 0f)) v = default(TMath).Mul(ops.Slope, v);
        return v;
    }
}
