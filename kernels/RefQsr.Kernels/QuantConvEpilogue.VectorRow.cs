using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace RefQsr.Kernels;

public static partial class QuantConvEpilogue
{
    /// <summary>A compile-time switch: the JIT compiles each combination of the epilogue's
    /// steps into its own loop, with no per-vector branches and only the constants that
    /// combination needs kept in registers.</summary>
    interface IStep { static abstract bool On { get; } }
    readonly struct Yes : IStep { public static bool On => true; }
    readonly struct No : IStep { public static bool On => false; }

    internal sealed partial class Plan
    {
        /// <summary>Row y on the vector path, dispatched to the loop for this plan's steps.</summary>
        void VectorRow(ReadOnlySpan<int> acc, int accRow0, Span<float> output, int y, int[] rowConst)
        {
            if (ops.AffineA is null) WithAffine<No>(acc, accRow0, output, y, rowConst);
            else WithAffine<Yes>(acc, accRow0, output, y, rowConst);
        }

        void WithAffine<TAffine>(ReadOnlySpan<int> acc, int accRow0, Span<float> output, int y, int[] rowConst) where TAffine : struct, IStep
        {
            if (ops.PReluSlope.HasValue) WithPRelu<TAffine, Yes>(acc, accRow0, output, y, rowConst);
            else WithPRelu<TAffine, No>(acc, accRow0, output, y, rowConst);
        }

        void WithPRelu<TAffine, TPRelu>(ReadOnlySpan<int> acc, int accRow0, Span<float> output, int y, int[] rowConst)
            where TAffine : struct, IStep where TPRelu : struct, IStep
        {
            if (ops.Residual is null) WithResidual<TAffine, TPRelu, No>(acc, accRow0, output, y, rowConst);
            else WithResidual<TAffine, TPRelu, Yes>(acc, accRow0, output, y, rowConst);
        }

        void WithResidual<TAffine, TPRelu, TResidual>(ReadOnlySpan<int> acc, int accRow0, Span<float> output, int y, int[] rowConst)
            where TAffine : struct, IStep where TPRelu : struct, IStep where TResidual : struct, IStep
        {
            if (ops.CodesOnly) WithOutput<TAffine, TPRelu, TResidual, No>(acc, accRow0, output, y, rowConst);
            else WithOutput<TAffine, TPRelu, TResidual, Yes>(acc, accRow0, output, y, rowConst);
        }

        void WithOutput<TAffine, TPRelu, TResidual, TFloats>(ReadOnlySpan<int> acc, int accRow0, Span<float> output, int y, int[] rowConst)
            where TAffine : struct, IStep where TPRelu : struct, IStep where TResidual : struct, IStep where TFloats : struct, IStep
        {
            if (Avx512F.IsSupported)
            {
                if (ops.NextCodes is null) VectorRow<TAffine, TPRelu, TResidual, TFloats, No>(acc, accRow0, output, y, rowConst);
                else VectorRow<TAffine, TPRelu, TResidual, TFloats, Yes>(acc, accRow0, output, y, rowConst);
            }
            else if (ops.NextCodes is null) VectorRow256<TAffine, TPRelu, TResidual, TFloats, No>(acc, accRow0, output, y, rowConst);
            else VectorRow256<TAffine, TPRelu, TResidual, TFloats, Yes>(acc, accRow0, output, y, rowConst);
        }

        /// <summary>Row y, 16 output channels per step. A border pixel (fewer valid taps)
        /// differs only in its constant (<see cref="RowConstants"/>) and its za·Σw row
        /// (<see cref="BorderClass"/>).</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        unsafe void VectorRow<TAffine, TPRelu, TResidual, TFloats, TCodes>(ReadOnlySpan<int> acc, int accRow0, Span<float> output, int y, int[] rowConst)
            where TAffine : struct, IStep where TPRelu : struct, IStep where TResidual : struct, IStep where TFloats : struct, IStep where TCodes : struct, IStep
        {
            int cout = w.OutChannels, width = this.width;
            var vscale = Vector512.Create(scale);
            var slope = Vector512.Create(ops.PReluSlope ?? 0f);
            var nq = new VectorCodeQuantizer(ops.NextQuantizer);
            int rowClass = BorderClass(y > 0, y < height - 1, false, false);
            fixed (int* ppc = rowConst, pzb = zaByBorder)
            fixed (int* pacc = acc)
            fixed (float* pout = output, pa = ops.AffineA, pb = ops.AffineB, pr = ops.Residual)
            fixed (byte* pn = ops.NextCodes)
            {
                int* pixConst = ppc;
                int* accRow = pacc + (y - accRow0) * width * cout;
                float* outRow = pout + y * width * cout, resRow = pr + y * width * cout;
                byte* codeRow = pn + y * width * cout;
                for (int x = 0; x < width; x++)
                {
                    var constPart = Vector512.Create(pixConst[x]);
                    int* zaw = pzb + (rowClass | (x > 0 ? 4 : 0) | (x < width - 1 ? 8 : 0)) * cout;
                    int px = x * cout;
                    for (int co = 0; co < cout; co += 16)
                    {
                        var total = Vector512.Load(accRow + px + co) + constPart + Vector512.Load(zaw + co);
                        var v = Avx512F.Multiply(Avx512F.ConvertToVector512Single(total), vscale);
                        if (TAffine.On) v = Avx512F.Add(Avx512F.Multiply(v, Vector512.Load(pa + co)), Vector512.Load(pb + co));
                        if (TPRelu.On) v = Vector512.ConditionalSelect(Avx512F.CompareGreaterThan(v, Vector512<float>.Zero), v, Avx512F.Multiply(slope, v));
                        if (TResidual.On) v = Avx512F.Add(Vector512.Load(resRow + px + co), v);
                        if (TFloats.On) v.Store(outRow + px + co);
                        if (TCodes.On) nq.Codes(v).Store(codeRow + px + co);
                    }
                }
            }
        }

        /// <summary>The same row in Vector256 registers (CPUs with AVX2 and no AVX-512): 16
        /// output channels per step as two halves of 8, the same integer total and the same
        /// single float multiplies and adds in the same order, so the same bits.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        unsafe void VectorRow256<TAffine, TPRelu, TResidual, TFloats, TCodes>(ReadOnlySpan<int> acc, int accRow0, Span<float> output, int y, int[] rowConst)
            where TAffine : struct, IStep where TPRelu : struct, IStep where TResidual : struct, IStep where TFloats : struct, IStep where TCodes : struct, IStep
        {
            int cout = w.OutChannels, width = this.width;
            var vscale = Vector256.Create(scale);
            var slope = Vector256.Create(ops.PReluSlope ?? 0f);
            var nq = new VectorCodeQuantizer256(ops.NextQuantizer);
            int rowClass = BorderClass(y > 0, y < height - 1, false, false);
            fixed (int* ppc = rowConst, pzb = zaByBorder)
            fixed (int* pacc = acc)
            fixed (float* pout = output, pa = ops.AffineA, pb = ops.AffineB, pr = ops.Residual)
            fixed (byte* pn = ops.NextCodes)
            {
                int* pixConst = ppc;
                int* accRow = pacc + (y - accRow0) * width * cout;
                float* outRow = pout + y * width * cout, resRow = pr + y * width * cout;
                byte* codeRow = pn + y * width * cout;
                for (int x = 0; x < width; x++)
                {
                    var constPart = Vector256.Create(pixConst[x]);
                    int* zaw = pzb + (rowClass | (x > 0 ? 4 : 0) | (x < width - 1 ? 8 : 0)) * cout;
                    int px = x * cout;
                    for (int co = 0; co < cout; co += 16)
                    {
                        var lo = Half<TAffine, TPRelu, TResidual, TFloats>(accRow, zaw, constPart, vscale, slope, pa, pb, resRow, outRow, px, co);
                        var hi = Half<TAffine, TPRelu, TResidual, TFloats>(accRow, zaw, constPart, vscale, slope, pa, pb, resRow, outRow, px, co + 8);
                        if (TCodes.On) nq.Codes(lo, hi).Store(codeRow + px + co);
                    }
                }
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static unsafe Vector256<float> Half<TAffine, TPRelu, TResidual, TFloats>(int* accRow, int* zaw, Vector256<int> constPart, Vector256<float> vscale,
            Vector256<float> slope, float* pa, float* pb, float* resRow, float* outRow, int px, int co)
            where TAffine : struct, IStep where TPRelu : struct, IStep where TResidual : struct, IStep where TFloats : struct, IStep
        {
            var total = Vector256.Load(accRow + px + co) + constPart + Vector256.Load(zaw + co);
            var v = Avx.Multiply(Avx.ConvertToVector256Single(total), vscale);
            if (TAffine.On) v = Avx.Add(Avx.Multiply(v, Vector256.Load(pa + co)), Vector256.Load(pb + co));
            if (TPRelu.On) v = Vector256.ConditionalSelect(Avx.CompareGreaterThan(v, Vector256<float>.Zero), v, Avx.Multiply(slope, v));
            if (TResidual.On) v = Avx.Add(Vector256.Load(resRow + px + co), v);
            if (TFloats.On) v.Store(outRow + px + co);
            return v;
        }
    }
}
