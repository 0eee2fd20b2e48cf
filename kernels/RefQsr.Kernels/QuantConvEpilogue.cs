using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace RefQsr.Kernels;

/// <summary>Turns the int32 accumulators of <see cref="QuantConv3x3"/> into the real conv
/// output: adds the zero-point corrections over the valid taps exactly (int64), then
/// applies the one float32 scale (docs/integer-arithmetic.md):
/// total = acc + zw·Σa + za·Σw + za·zw·|V|,  y = (float)total · scale,
/// optionally fused with the element-wise ops that follow (<see cref="EpilogueOps"/>).
/// Rows are independent, so any thread count gives identical output.</summary>
public static partial class QuantConvEpilogue
{
    public static void Dequantize(ReadOnlySpan<byte> codes, ReadOnlySpan<int> acc, QuantConvWeights w,
        int height, int width, int za, int zw, float scale, Span<float> output)
    {
        using var plan = Plan.Create(codes, acc.Length, output.Length, w, height, width, za, zw, scale, default);
        plan.Rows(acc, 0, output, 0, height);
    }

    /// <summary>Dequantize fused with BN, PReLU and the skip add, rows split over threads.</summary>
    public static void Dequantize(byte[] codes, int[] acc, QuantConvWeights w,
        int height, int width, int za, int zw, float scale, float[] output, EpilogueOps ops, int threads = 1)
    {
        using var plan = Plan.Create(codes, acc.Length, output.Length, w, height, width, za, zw, scale, ops);
        RowParallel.For(height, threads, (r0, r1) => plan.Rows(acc, 0, output, r0, r1));
    }

    /// <summary>Every pixel through the scalar int64 path (the truth the vector path is tested against).</summary>
    internal static void DequantizeScalar(byte[] codes, int[] acc, QuantConvWeights w,
        int height, int width, int za, int zw, float scale, float[] output, EpilogueOps ops)
    {
        using var plan = Plan.Create(codes, acc.Length, output.Length, w, height, width, za, zw, scale, ops);
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
                plan.ScalarPixel(acc, 0, output, y, x);
    }

    /// <summary>Everything the epilogue of one conv call needs besides the accumulators: the
    /// validated arguments, the per-pixel channel sums of the input codes and the vector
    /// path's corrections. Rows can then be finished in any order and on any thread, from
    /// the whole image's accumulators or from one row's at a time (the fused conv).</summary>
    internal sealed partial class Plan : IDisposable
    {
        /// <summary>Per pixel Σ over the input channels of its codes; null where zw = 0 (every
        /// term it enters is multiplied by zw).</summary>
        readonly int[]? chanSum;
        readonly int[]? zaByBorder;
        readonly QuantConvWeights w;
        readonly int height, width, za, zw;
        readonly float scale;
        readonly EpilogueOps ops;

        Plan(int[]? chanSum, int[]? zaByBorder, QuantConvWeights w, int height, int width, int za, int zw, float scale, EpilogueOps ops)
        {
            (this.chanSum, this.zaByBorder, this.w, this.height, this.width, this.za, this.zw, this.scale, this.ops) = (chanSum, zaByBorder, w, height, width, za, zw, scale, ops);
        }

        /// <summary>For the vector path, row y's per-pixel constants: zw·Σa + za·zw·|V|·cin over
        /// each pixel's valid taps (int32 by <see cref="FitsInt32"/>). The 3x3 box sum of the
        /// channel sums is taken as the sum of three row sums of three (integers: the same number
        /// as the nine-term sum). Made per row inside the threads' row loop: computed for the
        /// whole image before the conv, on one thread, it took about 0.07–0.09 ms of a
        /// 1.4–2 ms two-thread conv.</summary>
        void RowConstants(int y, Span<int> dst)
        {
            if (chanSum is null)   // zw = 0: both terms vanish
            {
                dst.Slice(0, width).Clear();
                return;
            }
            int zazw = za * zw * w.InChannels;
            int y0 = Math.Max(0, y - 1), y1 = Math.Min(height - 1, y + 1), rows = y1 - y0 + 1;
            var cs = chanSum.AsSpan(0, height * width);
            for (int x = 0; x < width; x++)
            {
                int x0 = Math.Max(0, x - 1), x1 = Math.Min(width - 1, x + 1), sumA = 0;
                for (int iy = y0; iy <= y1; iy++)
                {
                    var row = cs.Slice(iy * width);
                    sumA += x1 - x0 == 2 ? row[x0] + row[x0 + 1] + row[x1] : x1 > x0 ? row[x0] + row[x1] : row[x0];
                }
                dst[x] = zw * sumA + zazw * rows * (x1 - x0 + 1);
            }
        }

        /// <summary><paramref name="accLength"/>: the accumulators the caller holds, at least
        /// <paramref name="accRows"/> rows of them (the whole image, or one row at a time).</summary>
        public static Plan Create(ReadOnlySpan<byte> codes, int accLength, int outputLength, QuantConvWeights w,
            int height, int width, int za, int zw, float scale, EpilogueOps ops, int accRows = -1)
        {
            Validate(codes.Length, accLength, accRows < 0 ? height : accRows, outputLength, w, height, width, ops);
            // with zw = 0 (symmetric weights, and many asymmetric layers) no channel sums are needed
            var chanSum = zw == 0 ? null : ChannelSums(codes, height * width, w.InChannels);
            return new Plan(chanSum, VectorCorrections(w, za, zw), w, height, width, za, zw, scale, ops);
        }

        /// <summary>Returns the per-pixel arrays to the shared pool (a network makes 32 plans
        /// per patch; at full-image sizes each array is large-object-heap sized).</summary>
        public void Dispose()
        {
            if (chanSum is not null) ArrayPool<int>.Shared.Return(chanSum);
        }

        /// <summary>Rows r0 .. r1−1; <paramref name="acc"/>[0] is the first accumulator of row
        /// <paramref name="accRow0"/>. Every pixel takes the Vector512 path when every
        /// intermediate of the correction fits in int32 (<see cref="FitsInt32"/>), in Vector256
        /// registers on CPUs with AVX2 and no AVX-512; otherwise, and on CPUs without either,
        /// they take <see cref="ScalarPixel"/>. Both give the
        /// same bits: the integer total is the same number, and the float steps are the same
        /// single multiplies and adds (never fused) in the same order.</summary>
        public void Rows(ReadOnlySpan<int> acc, int accRow0, Span<float> output, int r0, int r1)
        {
            int[]? rowConst = zaByBorder is null ? null : ArrayPool<int>.Shared.Rent(width);
            try
            {
                for (int y = r0; y < r1; y++)
                {
                    if (rowConst is not null)
                    {
                        RowConstants(y, rowConst);
                        VectorRow(acc, accRow0, output, y, rowConst);
                    }
                    else
                        for (int x = 0; x < width; x++)
                            ScalarPixel(acc, accRow0, output, y, x);
                }
            }
            finally { if (rowConst is not null) ArrayPool<int>.Shared.Return(rowConst); }
        }

        /// <summary>Which neighbours a pixel has decides which taps are valid: one of 16 rows of
        /// <see cref="VectorCorrections"/>.</summary>
        internal static int BorderClass(bool hasUp, bool hasDown, bool hasLeft, bool hasRight)
            => (hasUp ? 1 : 0) | (hasDown ? 2 : 0) | (hasLeft ? 4 : 0) | (hasRight ? 8 : 0);

        /// <summary>The scalar truth for one pixel: int64 corrections over its valid taps.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void ScalarPixel(ReadOnlySpan<int> acc, int accRow0, Span<float> output, int y, int x)
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
                    if (chanSum is not null) sumA += chanSum[iy * width + ix];
                    validMask |= 1 << (ky * 3 + kx);
                    validTaps++;
                }
            }
            long constPart = (long)zw * sumA + (long)za * zw * validTaps * cin;
            int baseIdx = (y * width + x) * cout, accIdx = ((y - accRow0) * width + x) * cout;
            for (int co = 0; co < cout; co++)
            {
                long sumW = 0;
                if (validMask == 0x1FF)
                    sumW = w.FullTapSum(co);
                else
                    for (int t = 0; t < 9; t++)
                        if ((validMask & (1 << t)) != 0) sumW += tapSums[co * 9 + t];
                long total = acc[accIdx + co] + constPart + za * sumW;
                float v = (float)total * scale;
                if (affA is not null) v = v * affA[co] + affB![co];
                if (prelu && !(v > 0f)) v = slope * v;
                if (residual is not null) v = residual[baseIdx + co] + v;
                if (!ops.CodesOnly) output[baseIdx + co] = v;
                if (ops.NextCodes is { } next) next[baseIdx + co] = ActivationQuantize.Reference(v, ops.NextQuantizer);
            }
        }
    }

    static void Validate(int codes, int acc, int accRows, int output, QuantConvWeights w, int height, int width, EpilogueOps ops)
    {
        int cin = w.InChannels, cout = w.OutChannels;
        if (codes < height * width * cin || acc < accRows * width * cout || (!ops.CodesOnly && output < height * width * cout))
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
        var chanSum = ArrayPool<int>.Shared.Rent(pixels);   // every element written below
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

    /// <summary>za·Σw over the valid taps per output channel, for each of the 16 border classes
    /// of <see cref="Plan.BorderClass"/> (a pixel with every neighbour sums all nine taps), or
    /// null where the vector path cannot run (no Avx512F, channels not a multiple of 16, the
    /// int32 bound).</summary>
    static int[]? VectorCorrections(QuantConvWeights w, int za, int zw)
    {
        int cout = w.OutChannels;
        if (!((Avx512F.IsSupported || Avx2.IsSupported) && cout % 16 == 0 && FitsInt32(w.InChannels, za, zw))) return null;
        int[] sums = w.BorderTapSums;
        var byBorder = new int[sums.Length];
        for (int i = 0; i < sums.Length; i++) byBorder[i] = za * sums[i];
        return byBorder;
    }

    /// <summary>Σw over the valid taps per output channel for each of the 16 border classes of
    /// <see cref="Plan.BorderClass"/>: weights only, so <see cref="QuantConvWeights"/> keeps it.</summary>
    internal static int[] BorderTapSums(QuantConvWeights w)
    {
        int cout = w.OutChannels;
        var byBorder = new int[16 * cout];
        for (int cls = 0; cls < 16; cls++)
            for (int co = 0; co < cout; co++)
            {
                int sum = 0;
                for (int ky = 0; ky < 3; ky++)
                    for (int kx = 0; kx < 3; kx++)
                    {
                        bool valid = (ky != 0 || (cls & 1) != 0) && (ky != 2 || (cls & 2) != 0)
                                  && (kx != 0 || (cls & 4) != 0) && (kx != 2 || (cls & 8) != 0);
                        if (valid) sum += w.TapSums[co * 9 + ky * 3 + kx];
                    }
                byBorder[cls * cout + co] = sum;
            }
        return byBorder;
    }

    /// <summary>Whether |acc| + |zw·Σa| + |za·zw·9·cin| + |za·Σw| stays below 2^31 for any
    /// codes (activations ≤ 255, |weights| ≤ 128).</summary>
    internal static bool FitsInt32(int cin, int za, int zw)
    {
        long perTap = 255L * 128 + Math.Abs((long)zw) * 255 + Math.Abs((long)za) * Math.Abs((long)zw) + Math.Abs((long)za) * 128;
        return 9L * cin * perTap < int.MaxValue;
    }
}
