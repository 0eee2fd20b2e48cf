namespace RefQsr.Kernels;

/// <summary>Turns the int32 accumulators of <see cref="QuantConv3x3"/> into the real conv
/// output: adds the zero-point corrections over the valid taps exactly (int64), then
/// applies the one float32 scale (docs/integer-arithmetic.md):
/// total = acc + zw·Σa + za·Σw + za·zw·|V|,  y = (float)total · scale.</summary>
public static class QuantConvEpilogue
{
    public static void Dequantize(ReadOnlySpan<byte> codes, ReadOnlySpan<int> acc, QuantConvWeights w,
        int height, int width, int za, int zw, float scale, Span<float> output)
        => Dequantize(codes, acc, w, height, width, za, zw, scale, output, default);

    /// <summary>Dequantize fused with the element-wise ops after the conv (BN, PReLU, skip
    /// add): one pass instead of four, same float32 results.</summary>
    public static void Dequantize(ReadOnlySpan<byte> codes, ReadOnlySpan<int> acc, QuantConvWeights w,
        int height, int width, int za, int zw, float scale, Span<float> output, EpilogueOps ops)
    {
        int cin = w.InChannels, cout = w.OutChannels;
        if (codes.Length < height * width * cin || acc.Length < height * width * cout || output.Length < height * width * cout)
            throw new ArgumentException("conv epilogue: buffer sizes do not match the image");
        if (ops.HasAffine && (ops.AffineA.Length != cout || ops.AffineB.Length != cout))
            throw new ArgumentException($"conv epilogue: affine has {ops.AffineA.Length}/{ops.AffineB.Length} values for {cout} channels");
        if (ops.HasResidual && ops.Residual.Length < height * width * cout)
            throw new ArgumentException("conv epilogue: residual is smaller than the output");
        bool affine = ops.HasAffine, residual = ops.HasResidual, prelu = ops.PReluSlope.HasValue;
        float slope = ops.PReluSlope ?? 0f;
        // channel sums of the codes, then their 3x3 box over valid taps
        var chanSum = new int[height * width];
        for (int p = 0; p < chanSum.Length; p++)
        {
            int s = 0;
            var px = codes.Slice(p * cin, cin);
            for (int c = 0; c < cin; c++) s += px[c];
            chanSum[p] = s;
        }
        int[] tapSums = w.TapSums;
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
            {
                long sumA = 0;
                int validMask = 0, validTaps = 0;
                for (int ky = 0; ky < 3; ky++)
                {
                    int iy = y + ky - 1;
                    if ((uint)iy >= (uint)height) continue;
                    for (int kx = 0; kx < 3; kx++)
                    {
                        int ix = x + kx - 1;
                        if ((uint)ix >= (uint)width) continue;
                        sumA += chanSum[iy * width + ix];
                        validMask |= 1 << (ky * 3 + kx);
                        validTaps++;
                    }
                }
                long constPart = (long)zw * sumA + (long)za * zw * validTaps * cin;
                int baseIdx = (y * width + x) * cout;
                for (int co = 0; co < cout; co++)
                {
                    long sumW = 0;
                    if (validMask == 0x1FF)
                        sumW = w.FullTapSum(co);
                    else
                        for (int t = 0; t < 9; t++)
                            if ((validMask & (1 << t)) != 0) sumW += tapSums[co * 9 + t];
                    long total = acc[baseIdx + co] + constPart + za * sumW;
                    float v = (float)total * scale;
                    if (affine) v = v * ops.AffineA[co] + ops.AffineB[co];
                    if (prelu && !(v > 0f)) v = slope * v;
                    if (residual) v = ops.Residual[baseIdx + co] + v;
                    output[baseIdx + co] = v;
                }
            }
    }
}
