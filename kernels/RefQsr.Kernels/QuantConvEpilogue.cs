using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

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
        Rows(chanSum, acc, w, height, width, za, zw, VectorCorrections(w, width, za, zw), scale, output, default, 0, height);
    }

    /// <summary>Dequantize fused with BN, PReLU and the skip add, rows split over threads.</summary>
    public static void Dequantize(byte[] codes, int[] acc, QuantConvWeights w,
        int height, int width, int za, int zw, float scale, float[] output, EpilogueOps ops, int threads = 1)
    {
        Validate(codes.Length, acc.Length, output.Length, w, height, width, ops);
        var chanSum = ChannelSums(codes, height * width, w.InChannels);
        var zaFull = VectorCorrections(w, width, za, zw);
        RowParallel.For(height, threads, (r0, r1) => Rows(chanSum, acc, w, height, width, za, zw, zaFull, scale, output, ops, r0, r1));
    }

    /// <summary>Every pixel through the scalar int64 path (the truth the vector path is tested against).</summary>
    internal static void DequantizeScalar(byte[] codes, int[] acc, QuantConvWeights w,
        int height, int width, int za, int zw, float scale, float[] output, EpilogueOps ops)
    {
        Validate(codes.Length, acc.Length, output.Length, w, height, width, ops);
        var chanSum = ChannelSums(codes, height * width, w.InChannels);
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
                ScalarPixel(chanSum, acc, w, height, width, za, zw, scale, output, ops, y, x);
    }

    static void Validate(int codes, int acc, int output, QuantConvWeights w, int height, int width, EpilogueOps ops)
    {
        int cin = w.InChannels, cout = w.OutChannels;
        if (codes < height * width * cin || acc < height * width * cout || (!ops.CodesOnly && output < height * width * cout))
            throw new ArgumentException("conv epilogue: buffer sizes do not match the image");
        if (ops.CodesOnly && ops.NextCodes is null)
            throw new ArgumentException("conv epilogue: CodesOnly needs NextCodes (it would write nothing)");
        if ((ops.AffineA is null) != (ops.AffineB is null) || (ops.AffineA is { } a && (a.Length != cout || ops.AffineB!.Length != cout)))
            throw new ArgumentException($"conv epilogue: the affine needs {cout} scales and {cout} shifts");
        if (ops.Residual is { } r && r.Length < height * width * cout)
            throw new ArgumentException("conv epilogue: residual is smaller than the output");
        if (ops.NextCodes is { } n && n.Length < height * width * cout)
            throw new ArgumentException("conv epilogue: the next conv's codes are smaller than the output");
        if (ops.NextCodes is not null && !(ops.NextQuantizer.QHi > ops.NextQuantizer.QLo && ops.NextQuantizer.QHi - ops.NextQuantizer.QLo <= 255))
            throw new ArgumentException($"conv epilogue: next code range [{ops.NextQuantizer.QLo}, {ops.NextQuantizer.QHi}] is empty or wider than a byte");
    }

    /// <summary>Per position, the sum of the activation codes over the input channels
    /// (vpsadbw against zero sums 64 bytes into eight lanes).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static int[] ChannelSums(ReadOnlySpan<byte> codes, int pixels, int cin)
    {
        var chanSum = new int[pixels];
        for (int p = 0; p < pixels; p++)
        {
            var px = codes.Slice(p * cin, cin);
            int s = 0, c = 0;
            if (Avx512BW.IsSupported)
            {
                var sums = Vector512<ulong>.Zero;
                for (; c + 64 <= cin; c += 64)
                    sums += Avx512BW.SumAbsoluteDifferences(Vector512.Create(px.Slice(c, 64)), Vector512<byte>.Zero).AsUInt64();
                s = (int)Vector512.Sum(sums);
            }
            for (; c < cin; c++) s += px[c];
            chanSum[p] = s;
        }
        return chanSum;
    }

    /// <summary>Interior pixels (all nine taps valid) take the Vector512 path when every
    /// intermediate of the correction fits in int32 (<see cref="FitsInt32"/>); the rest, and
    /// CPUs without Avx512F, take <see cref="ScalarPixel"/>. Both give the same bits: the
    /// integer total is the same number, and the float steps are the same single multiplies
    /// and adds (never fused) in the same order.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Rows(int[] chanSum, ReadOnlySpan<int> acc, QuantConvWeights w, int height, int width, int za, int zw, int[]? zaFull,
        float scale, Span<float> output, EpilogueOps ops, int r0, int r1)
    {
        for (int y = r0; y < r1; y++)
        {
            if (zaFull is not null && y > 0 && y < height - 1)
            {
                ScalarPixel(chanSum, acc, w, height, width, za, zw, scale, output, ops, y, 0);
                VectorInterior(chanSum, acc, w, width, za, zw, zaFull, scale, output, ops, y);
                ScalarPixel(chanSum, acc, w, height, width, za, zw, scale, output, ops, y, width - 1);
            }
            else
                for (int x = 0; x < width; x++)
                    ScalarPixel(chanSum, acc, w, height, width, za, zw, scale, output, ops, y, x);
        }
    }

    /// <summary>za·Σw per output channel for the interior pixels' vector path, or null where
    /// that path cannot run (no Avx512F, channels not a multiple of 16, the int32 bound,
    /// rows too narrow to have an interior).</summary>
    static int[]? VectorCorrections(QuantConvWeights w, int width, int za, int zw)
    {
        if (!(Avx512F.IsSupported && w.OutChannels % 16 == 0 && FitsInt32(w.InChannels, za, zw) && width >= 3)) return null;
        var zaFull = new int[w.OutChannels];
        for (int co = 0; co < zaFull.Length; co++) zaFull[co] = za * w.FullTapSum(co);
        return zaFull;
    }

    /// <summary>Whether |acc| + |zw·Σa| + |za·zw·9·cin| + |za·Σw| stays below 2^31 for any
    /// codes (activations ≤ 255, |weights| ≤ 128).</summary>
    internal static bool FitsInt32(int cin, int za, int zw)
    {
        long perTap = 255L * 128 + Math.Abs((long)zw) * 255 + Math.Abs((long)za) * Math.Abs((long)zw) + Math.Abs((long)za) * 128;
        return 9L * cin * perTap < int.MaxValue;
    }

    /// <summary>Pixels 1 .. width−2 of an interior row y (all nine taps valid): 16 output
    /// channels per step, everything loop-invariant hoisted out of the pixel loop.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static unsafe void VectorInterior(int[] chanSum, ReadOnlySpan<int> acc, QuantConvWeights w, int width, int za, int zw, int[] zaFull,
        float scale, Span<float> output, EpilogueOps ops, int y)
    {
        int cin = w.InChannels, cout = w.OutChannels;
        var vscale = Vector512.Create(scale);
        bool prelu = ops.PReluSlope.HasValue;
        var slope = Vector512.Create(ops.PReluSlope ?? 0f);
        float[]? affA = ops.AffineA, affB = ops.AffineB, residual = ops.Residual;
        byte[]? next = ops.NextCodes;
        var nq = new VectorCodeQuantizer(ops.NextQuantizer);
        bool codesOnly = ops.CodesOnly;
        int zazw = za * zw * 9 * cin;
        fixed (int* pcs = chanSum, pzf = zaFull)
        fixed (int* pacc = acc)
        fixed (float* pout = output, pa = affA, pb = affB, pr = residual)
        fixed (byte* pn = next)
        {
            int* up = pcs + (y - 1) * width, mid = up + width, down = mid + width;
            for (int x = 1; x < width - 1; x++)
            {
                int sumA = up[x - 1] + up[x] + up[x + 1] + mid[x - 1] + mid[x] + mid[x + 1] + down[x - 1] + down[x] + down[x + 1];
                var constPart = Vector512.Create(zw * sumA + zazw);
                int baseIdx = (y * width + x) * cout;
                for (int co = 0; co < cout; co += 16)
                {
                    var total = Vector512.Load(pacc + baseIdx + co) + constPart + Vector512.Load(pzf + co);
                    var v = Avx512F.Multiply(Avx512F.ConvertToVector512Single(total), vscale);
                    if (pa != null) v = Avx512F.Add(Avx512F.Multiply(v, Vector512.Load(pa + co)), Vector512.Load(pb + co));
                    if (prelu) v = Vector512.ConditionalSelect(Avx512F.CompareGreaterThan(v, Vector512<float>.Zero), v, Avx512F.Multiply(slope, v));
                    if (pr != null) v = Avx512F.Add(Vector512.Load(pr + baseIdx + co), v);
                    if (!codesOnly) v.Store(pout + baseIdx + co);
                    if (pn != null) nq.Codes(v).Store(pn + baseIdx + co);
                }
            }
        }
    }

    /// <summary>The scalar truth for one pixel: int64 corrections over its valid taps.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void ScalarPixel(int[] chanSum, ReadOnlySpan<int> acc, QuantConvWeights w, int height, int width, int za, int zw,
        float scale, Span<float> output, EpilogueOps ops, int y, int x)
    {
        int cin = w.InChannels, cout = w.OutChannels;
        int[] tapSums = w.TapSums;
        float[]? affA = ops.AffineA, affB = ops.AffineB, residual = ops.Residual;
        bool prelu = ops.PReluSlope.HasValue;
        float slope = ops.PReluSlope ?? 0f;
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
            if (!ops.CodesOnly) output[baseIdx + co] = v;
            if (ops.NextCodes is { } next) next[baseIdx + co] = ActivationQuantize.Reference(v, ops.NextQuantizer);
        }
    }
}
