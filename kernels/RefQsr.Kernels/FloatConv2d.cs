using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace RefQsr.Kernels;

/// <summary>FP32 stride-1 "same" convolution (zero padding) on HWC images, no bias.
/// Weights are given in PyTorch order [out][in][ky][kx] and packed once by
/// <see cref="FloatConvWeights"/>.</summary>
public static partial class FloatConv2d
{
    /// <summary>The scalar truth the SIMD path is tested against.</summary>
    public static void Reference(ReadOnlySpan<float> input, ReadOnlySpan<float> weightsOihw, Span<float> output, ConvShape s)
    {
        s.Validate(input.Length, weightsOihw.Length, output.Length);
        int k = s.Kernel, pad = s.Pad;
        for (int y = 0; y < s.Height; y++)
            for (int x = 0; x < s.Width; x++)
                for (int co = 0; co < s.OutChannels; co++)
                {
                    float acc = 0f;
                    for (int ci = 0; ci < s.InChannels; ci++)
                        for (int ky = 0; ky < k; ky++)
                        {
                            int iy = y + ky - pad;
                            if ((uint)iy >= (uint)s.Height) continue;
                            for (int kx = 0; kx < k; kx++)
                            {
                                int ix = x + kx - pad;
                                if ((uint)ix >= (uint)s.Width) continue;
                                acc += input[(iy * s.Width + ix) * s.InChannels + ci]
                                     * weightsOihw[((co * s.InChannels + ci) * k + ky) * k + kx];
                            }
                        }
                    output[(y * s.Width + x) * s.OutChannels + co] = acc;
                }
    }

    /// <summary>The Vector256 FP32 kernels (Winograd F(4x4), the RGB tail's CHW rows) run here:
    /// AVX2 and FMA3.</summary>
    static bool Vector256Fma => Avx2.IsSupported && System.Runtime.Intrinsics.X86.Fma.IsSupported;

    /// <summary>Neither AVX-512 nor AVX2 with FMA: the narrow kernels take Vector128 registers
    /// (<see cref="Float128"/>: NEON on ARM64, SSE on older x64).</summary>
    static bool Vector128Only => !Avx512F.IsSupported && !Vector256Fma;

    /// <summary>The RGB tail's narrow CHW kernels run here, in Vector256 (AVX2 and FMA) or
    /// Vector128 (where that is hardware) registers, without AVX-512.</summary>
    static bool RgbNarrow => !Avx512F.IsSupported && (Vector256Fma || Vector128.IsHardwareAccelerated);

    /// <summary>Vectorised convolution: Winograd F(4x4, 3x3) where the weights have its layout
    /// (<see cref="FloatConvWeights.UsesWinograd"/>), direct sums otherwise; the same result as
    /// <see cref="Reference"/> up to float rounding, identical for any thread count.</summary>
    public static void Run(ReadOnlySpan<float> input, FloatConvWeights w, float[] output, int height, int width, int threads)
    {
        var s = new ConvShape(height, width, w.InChannels, w.OutChannels, w.Kernel);
        s.Validate(input.Length, w.Length, output.Length);
        // the RGB tail on AVX2 with FMA or on Vector128: the CHW route too, so that it sums as
        // the fused upsampler-and-tail pass does (RgbPixelVectorRowsNarrow)
        if (w.Scheme == FloatConvWeights.Layout.OutTapIn && (Avx512F.IsSupported || (w.OutChannels == 3 && RgbNarrow)))
        {
            PixelVectorConv(input, w, output, height, width, threads);
            return;
        }
        if (w.Winograd is not null)
        {
            WinogradConv(input, w, output, height, width, threads, default);
            return;
        }
        int pad = s.Pad, pw = width + 2 * pad;
        float[] padded = Padding.Rent(input, height, width, s.InChannels, pad, 0);
        try
        {
            RowParallel.For(height, threads, (r0, r1) =>
            {
                if (w.Scheme == FloatConvWeights.Layout.TapInOut && w.OutChannels % 64 == 0 && Avx512F.IsSupported)
                    BroadcastRows512(padded, pw, w, output, width, r0, r1);
                else if (w.Scheme == FloatConvWeights.Layout.TapInOut && Vector256Fma)
                    BroadcastRowsNarrow<Float256, Vector256<float>>(padded, pw, w, output, width, r0, r1);
                else if (w.Scheme == FloatConvWeights.Layout.TapInOut)
                    BroadcastRowsNarrow<Float128, Vector128<float>>(padded, pw, w, output, width, r0, r1);
                else
                    DotRows(padded, pw, w, output, width, r0, r1);
            });
        }
        finally { ArrayPool<float>.Shared.Return(padded); }
    }

    /// <summary>The direct broadcast kernel in Vector128 registers on any CPU, for weights in
    /// the [tap][in][out] layout (tests: the Vector512 and Vector256 kernels' bits).</summary>
    internal static void RunDirectVector128(ReadOnlySpan<float> input, FloatConvWeights w, float[] output, int height, int width, int threads)
    {
        if (w.Scheme != FloatConvWeights.Layout.TapInOut) throw new NotSupportedException("the broadcast kernel takes weights with a multiple of 32 output channels");
        var s = new ConvShape(height, width, w.InChannels, w.OutChannels, w.Kernel);
        s.Validate(input.Length, w.Length, output.Length);
        float[] padded = Padding.Rent(input, height, width, s.InChannels, s.Pad, 0);
        try
        {
            RowParallel.For(height, threads, (r0, r1) => BroadcastRowsNarrow<Float128, Vector128<float>>(padded, width + 2 * s.Pad, w, output, width, r0, r1));
        }
        finally { ArrayPool<float>.Shared.Return(padded); }
    }

    /// <summary>Out channels in blocks of four vectors (32 with Vector256, 16 with Vector128),
    /// two output pixels at a time: each broadcast input value feeds four FMAs, each weight
    /// load two. Written once for both widths (<see cref="IFloatVector{TV}"/>); every output's
    /// FMAs run in the (ky, kx, ci) order, so both give the same bits.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static unsafe void BroadcastRowsNarrow<TOps, TV>(float[] padded, int pw, FloatConvWeights w, float[] output, int width, int r0, int r1)
        where TOps : IFloatVector<TV> where TV : unmanaged
    {
        int k = w.Kernel, cin = w.InChannels, cout = w.OutChannels, n = TOps.Count;
        fixed (float* pin = padded, pwt = w.Packed, pout = output)
        {
            for (int y = r0; y < r1; y++)
            {
                for (int cb = 0; cb < cout; cb += 4 * n)
                {
                    int x = 0;
                    for (; x + 1 < width; x += 2)
                    {
                        TV a0 = default, a1 = default, a2 = default, a3 = default;
                        TV b0 = default, b1 = default, b2 = default, b3 = default;
                        for (int ky = 0; ky < k; ky++)
                            for (int kx = 0; kx < k; kx++)
                            {
                                float* src = pin + ((y + ky) * pw + x + kx) * cin;
                                float* wt = pwt + (ky * k + kx) * cin * cout + cb;
                                for (int ci = 0; ci < cin; ci++, wt += cout)
                                {
                                    var w0 = TOps.Load(wt); var w1 = TOps.Load(wt + n);
                                    var w2 = TOps.Load(wt + 2 * n); var w3 = TOps.Load(wt + 3 * n);
                                    var va = TOps.Broadcast(src[ci]);
                                    var vb = TOps.Broadcast(src[ci + cin]);
                                    a0 = TOps.Fma(va, w0, a0); a1 = TOps.Fma(va, w1, a1); a2 = TOps.Fma(va, w2, a2); a3 = TOps.Fma(va, w3, a3);
                                    b0 = TOps.Fma(vb, w0, b0); b1 = TOps.Fma(vb, w1, b1); b2 = TOps.Fma(vb, w2, b2); b3 = TOps.Fma(vb, w3, b3);
                                }
                            }
                        float* o = pout + (y * width + x) * cout + cb;
                        TOps.Store(a0, o); TOps.Store(a1, o + n); TOps.Store(a2, o + 2 * n); TOps.Store(a3, o + 3 * n);
                        o += cout;
                        TOps.Store(b0, o); TOps.Store(b1, o + n); TOps.Store(b2, o + 2 * n); TOps.Store(b3, o + 3 * n);
                    }
                    for (; x < width; x++)
                    {
                        TV a0 = default, a1 = default, a2 = default, a3 = default;
                        for (int ky = 0; ky < k; ky++)
                            for (int kx = 0; kx < k; kx++)
                            {
                                float* src = pin + ((y + ky) * pw + x + kx) * cin;
                                float* wt = pwt + (ky * k + kx) * cin * cout + cb;
                                for (int ci = 0; ci < cin; ci++, wt += cout)
                                {
                                    var va = TOps.Broadcast(src[ci]);
                                    a0 = TOps.Fma(va, TOps.Load(wt), a0); a1 = TOps.Fma(va, TOps.Load(wt + n), a1);
                                    a2 = TOps.Fma(va, TOps.Load(wt + 2 * n), a2); a3 = TOps.Fma(va, TOps.Load(wt + 3 * n), a3);
                                }
                            }
                        float* o = pout + (y * width + x) * cout + cb;
                        TOps.Store(a0, o); TOps.Store(a1, o + n); TOps.Store(a2, o + 2 * n); TOps.Store(a3, o + 3 * n);
                    }
                }
            }
        }
    }

    // Out channels in blocks of 64 (four Vector512), four output pixels at a time: 16
    // accumulators; each weight load feeds four FMAs and each broadcast four.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static unsafe void BroadcastRows512(float[] padded, int pw, FloatConvWeights w, float[] output, int width, int r0, int r1, SubPixelStore sub = default)
    {
        int k = w.Kernel, cin = w.InChannels, cout = w.OutChannels;
        fixed (float* pin = padded, pwt = w.Packed, pout = output)
        {
            for (int y = r0; y < r1; y++)
                for (int cb = 0; cb < cout; cb += 64)
                {
                    int x = 0;
                    for (; x + 3 < width; x += 4)
                    {
                        Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
                        Vector512<float> b0 = default, b1 = default, b2 = default, b3 = default;
                        Vector512<float> c0 = default, c1 = default, c2 = default, c3 = default;
                        Vector512<float> d0 = default, d1 = default, d2 = default, d3 = default;
                        for (int ky = 0; ky < k; ky++)
                            for (int kx = 0; kx < k; kx++)
                            {
                                float* src = pin + ((y + ky) * pw + x + kx) * cin;
                                float* wt = pwt + (ky * k + kx) * cin * cout + cb;
                                for (int ci = 0; ci < cin; ci++, wt += cout)
                                {
                                    var w0 = Vector512.Load(wt); var w1 = Vector512.Load(wt + 16);
                                    var w2 = Vector512.Load(wt + 32); var w3 = Vector512.Load(wt + 48);
                                    var va = Vector512.Create(src[ci]);
                                    a0 = Avx512F.FusedMultiplyAdd(va, w0, a0); a1 = Avx512F.FusedMultiplyAdd(va, w1, a1);
                                    a2 = Avx512F.FusedMultiplyAdd(va, w2, a2); a3 = Avx512F.FusedMultiplyAdd(va, w3, a3);
                                    var vb = Vector512.Create(src[ci + cin]);
                                    b0 = Avx512F.FusedMultiplyAdd(vb, w0, b0); b1 = Avx512F.FusedMultiplyAdd(vb, w1, b1);
                                    b2 = Avx512F.FusedMultiplyAdd(vb, w2, b2); b3 = Avx512F.FusedMultiplyAdd(vb, w3, b3);
                                    var vc = Vector512.Create(src[ci + 2 * cin]);
                                    c0 = Avx512F.FusedMultiplyAdd(vc, w0, c0); c1 = Avx512F.FusedMultiplyAdd(vc, w1, c1);
                                    c2 = Avx512F.FusedMultiplyAdd(vc, w2, c2); c3 = Avx512F.FusedMultiplyAdd(vc, w3, c3);
                                    var vd = Vector512.Create(src[ci + 3 * cin]);
                                    d0 = Avx512F.FusedMultiplyAdd(vd, w0, d0); d1 = Avx512F.FusedMultiplyAdd(vd, w1, d1);
                                    d2 = Avx512F.FusedMultiplyAdd(vd, w2, d2); d3 = Avx512F.FusedMultiplyAdd(vd, w3, d3);
                                }
                            }
                        int os = sub.PixelStride(cout);
                        float* o = pout + sub.Offset(y, x, cb, width, cout);
                        sub.Store(o, a0, a1, a2, a3); o += os;
                        sub.Store(o, b0, b1, b2, b3); o += os;
                        sub.Store(o, c0, c1, c2, c3); o += os;
                        sub.Store(o, d0, d1, d2, d3);
                    }
                    for (; x < width; x++)
                    {
                        Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
                        for (int ky = 0; ky < k; ky++)
                            for (int kx = 0; kx < k; kx++)
                            {
                                float* src = pin + ((y + ky) * pw + x + kx) * cin;
                                float* wt = pwt + (ky * k + kx) * cin * cout + cb;
                                for (int ci = 0; ci < cin; ci++, wt += cout)
                                {
                                    var va = Vector512.Create(src[ci]);
                                    a0 = Avx512F.FusedMultiplyAdd(va, Vector512.Load(wt), a0);
                                    a1 = Avx512F.FusedMultiplyAdd(va, Vector512.Load(wt + 16), a1);
                                    a2 = Avx512F.FusedMultiplyAdd(va, Vector512.Load(wt + 32), a2);
                                    a3 = Avx512F.FusedMultiplyAdd(va, Vector512.Load(wt + 48), a3);
                                }
                            }
                        sub.Store(pout + sub.Offset(y, x, cb, width, cout), a0, a1, a2, a3);
                    }
                }
        }
    }

    // Few out channels (the 64->3 tail): dot products along the input channels.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static unsafe void DotRows(float[] padded, int pw, FloatConvWeights w, float[] output, int width, int r0, int r1)
    {
        int k = w.Kernel, cin = w.InChannels, cout = w.OutChannels, taps = k * k;
        int vec = cin & ~7;
        fixed (float* pin = padded, pwt = w.Packed, pout = output)
        {
            for (int y = r0; y < r1; y++)
                for (int x = 0; x < width; x++)
                    for (int co = 0; co < cout; co++)
                    {
                        var acc = Vector256<float>.Zero;
                        float tail = 0f;
                        float* wt = pwt + co * taps * cin;
                        for (int ky = 0; ky < k; ky++)
                            for (int kx = 0; kx < k; kx++, wt += cin)
                            {
                                float* src = pin + ((y + ky) * pw + x + kx) * cin;
                                int ci = 0;
                                for (; ci < vec; ci += 8)
                                    acc = Fma(Vector256.Load(src + ci), Vector256.Load(wt + ci), acc);
                                // fused, so that a conv of fewer than 8 input channels (a head with
                                // an output count the broadcast kernels do not take) is the FMA
                                // chain in (ky, kx, ci) order they compute and the trainer's
                                // conv_fma_chain simulates
                                for (; ci < cin; ci++)
                                    tail = MathF.FusedMultiplyAdd(src[ci], wt[ci], tail);
                            }
                        pout[(y * width + x) * cout + co] = Vector256.Sum(acc) + tail;
                    }
        }
    }

    /// <summary>a·b + c rounded once, on every CPU: vfmadd where FMA3 is, an exact software
    /// fused multiply-add elsewhere (never a*b+c, which would give other bits on CPUs without
    /// FMA3 and on ARM64 and move the parity with the trainer's integer simulation).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<float> Fma(Vector256<float> a, Vector256<float> b, Vector256<float> c)
        => Vector256.FusedMultiplyAdd(a, b, c);
}

/// <summary>Conv weights repacked once for <see cref="FloatConv2d.Run"/>.</summary>
public sealed class FloatConvWeights
{
    public enum Layout { TapInOut, OutTapIn }

    /// <summary>How <see cref="FloatConv2d.Run"/> computes a conv with these weights.</summary>
    public enum Algorithm
    {
        /// <summary>Winograd F(4x4, 3x3) where it applies (3x3, AVX-512, AVX2 with FMA or hardware Vector128, in channels a
        /// multiple of 16, out channels a multiple of 64), F(3, 3) along rows for three output
        /// channels and a kernel a multiple of 3 (the RGB tail), direct otherwise.</summary>
        Auto,
        /// <summary>Always the direct sum (the baseline the Winograd path is measured against).</summary>
        Direct,
    }

    public int OutChannels { get; }
    public int InChannels { get; }
    public int Kernel { get; }
    public Layout Scheme { get; }
    internal float[] Packed { get; }
    /// <summary>The Winograd-transformed weights (<see cref="FloatConv2d.WinogradWeights"/>),
    /// or null where the direct sum runs.</summary>
    internal float[]? Winograd { get; }
    public bool UsesWinograd => Winograd is not null;
    /// <summary>The RGB tail's row-Winograd weights (<see cref="FloatConv2d.RgbWinogradWeights"/>),
    /// or null where the direct sum runs.</summary>
    internal float[]? RgbWinograd { get; }
    public bool UsesRgbWinograd => RgbWinograd is not null;
    public int Length => Packed.Length;
    public long ResidentBytes => 4L * (Packed.Length + (Winograd?.Length ?? 0) + (RgbWinograd?.Length ?? 0));

    public FloatConvWeights(ReadOnlySpan<float> weightsOihw, int outChannels, int inChannels, int kernel, Algorithm algorithm = Algorithm.Auto)
    {
        if (outChannels <= 0 || inChannels <= 0 || kernel <= 0 || kernel % 2 == 0)
            throw new ArgumentException($"conv weights: bad shape [{outChannels}, {inChannels}, {kernel}, {kernel}]");
        int taps = kernel * kernel;
        if (weightsOihw.Length != outChannels * inChannels * taps)
            throw new ArgumentException($"conv weights: {weightsOihw.Length} values for shape [{outChannels}, {inChannels}, {kernel}, {kernel}]");
        OutChannels = outChannels; InChannels = inChannels; Kernel = kernel;
        Scheme = outChannels % 32 == 0 ? Layout.TapInOut : Layout.OutTapIn;
        Packed = new float[weightsOihw.Length];
        for (int co = 0; co < outChannels; co++)
            for (int ci = 0; ci < inChannels; ci++)
                for (int t = 0; t < taps; t++)
                {
                    float v = weightsOihw[(co * inChannels + ci) * taps + t];
                    int dst = Scheme == Layout.TapInOut
                        ? (t * inChannels + ci) * outChannels + co
                        : (co * taps + t) * inChannels + ci;
                    Packed[dst] = v;
                }
        if (algorithm == Algorithm.Auto && FloatConv2d.WinogradSupported(kernel, inChannels, outChannels))
            Winograd = FloatConv2d.WinogradWeights(weightsOihw, outChannels, inChannels);
        if (algorithm == Algorithm.Auto && Scheme == Layout.OutTapIn && FloatConv2d.RgbWinogradSupported(kernel, inChannels, outChannels))
            RgbWinograd = FloatConv2d.RgbWinogradWeights(weightsOihw, inChannels, kernel);
    }
}
