using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace RefQsr.Kernels;

public static partial class FloatConv2d
{
    /// <summary>The x2 upsampler step in one pass: a 3x3 conv C→4C, pixel shuffle(2) and
    /// PReLU, the conv's results stored straight into the 2x-upscaled HWC image. The weights
    /// must be in sub-pixel order (<see cref="PixelShuffle.SubPixelOrder"/>), so that each
    /// 64-channel block of the conv's output is one sub-pixel's channels. Bit-identical to
    /// <see cref="Run"/> on the original weights, then <see cref="PixelShuffle.Run"/>, then
    /// PReLU: the same sums, only stored elsewhere. Needs Avx512F or Winograd weights (which
    /// AVX2 with FMA and hardware Vector128 get) and C a multiple of 64 (<see cref="SubPixelSupported"/>).</summary>
    public static void RunSubPixel2(ReadOnlySpan<float> input, FloatConvWeights subPixelWeights, float[] output, int height, int width, float preluSlope, int threads)
    {
        var w = subPixelWeights;
        if (!SubPixelSupported(w)) throw new NotSupportedException($"the fused upsampler needs AVX-512 or its Winograd weights and a 3x3 conv C->4C with C a multiple of 64, got {w.InChannels}->{w.OutChannels} k{w.Kernel}");
        var s = new ConvShape(height, width, w.InChannels, w.OutChannels, w.Kernel);
        s.Validate(input.Length, w.Length, output.Length);
        var store = new SubPixelStore(w.OutChannels / 4, preluSlope);
        if (w.Winograd is not null)
        {
            WinogradConv(input, w, output, height, width, threads, store);
            return;
        }
        float[] padded = Padding.Rent(input, height, width, s.InChannels, s.Pad, 0);
        try
        {
            RowParallel.For(height, threads, (r0, r1) => BroadcastRows512(padded, width + 2, w, output, width, r0, r1, store));
        }
        finally { ArrayPool<float>.Shared.Return(padded); }
    }

    public static bool SubPixelSupported(FloatConvWeights w)
        => (Avx512F.IsSupported || w.UsesWinograd) && w.Kernel == 3 && w.Scheme == FloatConvWeights.Layout.TapInOut
           && w.OutChannels == 4 * w.InChannels && w.InChannels % 64 == 0;

    /// <summary>Where <see cref="BroadcastRows512"/> and the Winograd path store a block of
    /// one pixel: by default the conv's own HWC output; for the fused upsampler (Channels &gt;
    /// 0), the block's sub-pixel of the 2x image, with PReLU applied on the way. The Winograd
    /// path's <see cref="StoreOne"/> also applies a <see cref="FloatEpilogue"/> (affine,
    /// PReLU, residual) when one is given.</summary>
    internal readonly unsafe struct SubPixelStore(int channels, float slope)
    {
        readonly int channels = channels;
        readonly float slope = slope;
        readonly float* affineA, affineB;
        readonly bool prelu;
        /// <summary>Residual element = output element + this (in floats), when <see cref="hasResidual"/>.</summary>
        readonly nint residualDelta;
        readonly bool hasResidual;

        /// <summary>A plain HWC store with the epilogue's steps (arrays pinned by the caller).</summary>
        public SubPixelStore(float* a, float* b, float? preluSlope, float* output, float* residual)
            : this(0, preluSlope ?? 0f)
        {
            affineA = a; affineB = b; prelu = preluSlope.HasValue;
            hasResidual = residual != null;
            residualDelta = hasResidual ? (nint)(residual - output) : 0;
        }

        public int PixelStride(int cout) => channels == 0 ? cout : 2 * channels;

        public int Offset(int y, int x, int cb, int width, int cout)
        {
            if (channels == 0) return (y * width + x) * cout + cb;
            int sp = cb / channels, i = sp >> 1, j = sp & 1;   // block cb holds sub-pixel (i, j)
            return ((2 * y + i) * 2 * width + 2 * x + j) * channels + cb % channels;
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public unsafe void Store(float* o, Vector512<float> v0, Vector512<float> v1, Vector512<float> v2, Vector512<float> v3)
        {
            if (channels != 0)
            {
                // PReLU as Elementwise.PRelu: x stays if x > 0, else slope·x (NaN included)
                var s = Vector512.Create(slope);
                v0 = Vector512.ConditionalSelect(Avx512F.CompareGreaterThan(v0, Vector512<float>.Zero), v0, Avx512F.Multiply(s, v0));
                v1 = Vector512.ConditionalSelect(Avx512F.CompareGreaterThan(v1, Vector512<float>.Zero), v1, Avx512F.Multiply(s, v1));
                v2 = Vector512.ConditionalSelect(Avx512F.CompareGreaterThan(v2, Vector512<float>.Zero), v2, Avx512F.Multiply(s, v2));
                v3 = Vector512.ConditionalSelect(Avx512F.CompareGreaterThan(v3, Vector512<float>.Zero), v3, Avx512F.Multiply(s, v3));
            }
            v0.Store(o); v1.Store(o + 16); v2.Store(o + 32); v3.Store(o + 48);
        }

        /// <summary>One vector of output channels <paramref name="c"/> .. c+15, as <see cref="Store"/>,
        /// then the epilogue's steps in the order of the separate passes: v·A + B (a multiply
        /// then an add), PReLU, + residual.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public unsafe void StoreOne(float* o, int c, Vector512<float> v)
        {
            if (affineA != null)
                v = Avx512F.Add(Avx512F.Multiply(v, Vector512.Load(affineA + c)), Vector512.Load(affineB + c));
            if (channels != 0 || prelu)
                v = Vector512.ConditionalSelect(Avx512F.CompareGreaterThan(v, Vector512<float>.Zero), v, Avx512F.Multiply(Vector512.Create(slope), v));
            if (hasResidual)
                v = Avx512F.Add(Vector512.Load(o + residualDelta), v);
            v.Store(o);
        }

        /// <summary><see cref="StoreOne"/> for one narrower vector of channels (CPUs without
        /// AVX-512): the same single multiplies and adds in the same order.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public unsafe void StoreOneNarrow<TOps, TV>(float* o, int c, TV v) where TOps : IFloatVector<TV> where TV : unmanaged
        {
            if (affineA != null)
                v = TOps.Add(TOps.Multiply(v, TOps.Load(affineA + c)), TOps.Load(affineB + c));
            if (channels != 0 || prelu)
                v = TOps.PRelu(v, TOps.Broadcast(slope));
            if (hasResidual)
                v = TOps.Add(TOps.Load(o + residualDelta), v);
            TOps.Store(v, o);
        }
    }
}
