namespace RefQsr.Kernels;

/// <summary>Turns the int32 accumulators of <see cref="QuantConv3x3"/> into the real conv
/// output: adds the zero-point corrections over the valid taps exactly (int64), then
/// applies the one float32 scale (docs/integer-arithmetic.md):
/// total = acc + zw·Σa + za·Σw + za·zw·|V|,  y = (float)total · scale,
/// optionally fused with the element-wise ops that follow (<see cref="EpilogueOps"/>).
/// Rows are independent, so any thread count gives identical output.</summary>
public static class QuantConvEpilogue
{
    public static void Dequantize(ReadOnlySpan<byte> codes, ReadOnlySpan<int> acc, QuantConvWeights w,
        int height, int width, int za, int zw, float scale, Span<float> output)
    {
        Validate(codes.Length, acc.Length, output.Length, w, height, width, default);
        var chanSum = ChannelSums(codes, height * width, w.InChannels);
        Rows(chanSum, acc, w, height, width, za, zw, scale, output, default, 0, height);
    }

    /// <summary>Dequantize fused with BN, PReLU and the skip add, rows split over threads.</summary>
    public static void Dequantize(byte[] codes, int[] acc, QuantConvWeights w,
        int height, int width, int za, int zw, float scale, float[] output, EpilogueOps ops, int threads = 1)
    {
        Validate(codes.Length, acc.Length, output.Length, w, height, width, ops);
        var chanSum = ChannelSums(codes, height * width, w.InChannels);
        RowParallel.For(height, threads, (r0, r1) => Rows(chanSum, acc, w, height, width, za, zw, scale, output, ops, r0, r1));
    }

    static void Validate(int codes, int acc, int output, QuantConvWeights w, int height, int width, EpilogueOps ops)
    {
        int cin = w.InChannels, cout = w.OutChannels;
        if (codes < height * width * cin || acc < height * width * cout || output < height * width * cout)
            throw new ArgumentException("conv epilogue: buffer sizes do not match the image");
        if ((ops.AffineA is null) != (ops.AffineB is null) || (ops.AffineA is { } a && (a.Length != cout || ops.AffineB!.Length != cout)))
            throw new ArgumentException($"conv epilogue: the affine needs {cout} scales and {cout} shifts");
        if (ops.Residual is { } r && r.Length < height * width * cout)
            throw new ArgumentException("conv epilogue: residual is smaller than the output");
    }

    /// <summary>Per position, the sum of the activation codes over the input channels.</summary>
    static int[] ChannelSums(ReadOnlySpan<byte> codes, int pixels, int cin)
    {
        var chanSum = new int[pixels];
        for (int p = 0; p < pixels; p++)
        {
            int s = 0;
            var px = codes.Slice(p * cin, cin);
            for (int c = 0; c < cin; c++) s += px[c];
            chanSum[p] = s;
        }
        return chanSum;
    }

    static void Rows(int[] chanSum, ReadOnlySpan<int> acc, QuantConvWeights w, int height, int width, int za, int zw,
        float scale, Span<float> output, EpilogueOps ops, int r0, int r1)
    {
        int cin = w.InChannels, cout = w.OutChannels;
        int[] tapSums = w.TapSums;
        float[]? affA = ops.AffineA, affB = ops.AffineB, residual = ops.Residual;
        bool prelu = ops.PReluSlope.HasValue;
        float slope = ops.PReluSlope ?? 0f;
        for (int y = r0; y < r1; y++)
            for (int x = 0; x < width; x++)
            {
                // the box sum of the channel sums over the valid taps
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
                    if (affA is not null) v = v * affA[co] + affB![co];
                    if (prelu && !(v > 0f)) v = slope * v;
                    if (residual is not null) v = residual[baseIdx + co] + v;
                    output[baseIdx + co] = v;
                }
            }
    }
}
