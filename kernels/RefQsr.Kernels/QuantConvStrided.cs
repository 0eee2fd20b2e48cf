using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace RefQsr.Kernels;

/// <summary>Scalar integer convolution with any kernel, stride and zero padding, for small
/// layers (ClustBlock's stride-3 conv1 on 3 channels). Same arithmetic as
/// <see cref="QuantConv3x3"/> + <see cref="QuantConvEpilogue"/>
/// (docs/integer-arithmetic.md): acc = Σ_V a·w in int32 over the valid taps V, then
/// total = acc + zw·Σ_V a + za·Σ_V w + za·zw·|V| in int64, y = (float)total · scale.</summary>
public static class QuantConvStrided
{
    /// <summary>Output size along one axis: floor((size + 2·pad − kernel) / stride) + 1, or 0
    /// when the kernel does not fit (PyTorch's rule).</summary>
    public static int OutputSize(int size, int kernel, int stride, int pad)
    {
        if (size <= 0 || kernel <= 0 || stride <= 0 || pad < 0)
            throw new ArgumentException($"strided conv: size {size}, kernel {kernel}, stride {stride}, pad {pad} are not valid");
        int span = size + 2 * pad - kernel;
        return span < 0 ? 0 : span / stride + 1;
    }

    /// <summary><paramref name="codes"/>: unsigned activation codes, HWC [height][width][inChannels];
    /// <paramref name="weightsOihw"/>: signed codes [outChannels][inChannels][kernel][kernel];
    /// <paramref name="output"/>: HWC [OutputSize(height)][OutputSize(width)][outChannels].</summary>
    public static void Run(ReadOnlySpan<byte> codes, int height, int width, int inChannels,
        ReadOnlySpan<sbyte> weightsOihw, int outChannels, int kernel, int stride, int pad,
        int za, int zw, float scale, Span<float> output)
    {
        int oh = OutputSize(height, kernel, stride, pad), ow = OutputSize(width, kernel, stride, pad);
        if (inChannels <= 0 || outChannels <= 0) throw new ArgumentException("strided conv: channel counts must be positive");
        if (codes.Length < height * width * inChannels) throw new ArgumentException($"strided conv: input has {codes.Length} codes, needs {height * width * inChannels}");
        if (weightsOihw.Length != outChannels * inChannels * kernel * kernel)
            throw new ArgumentException($"strided conv: {weightsOihw.Length} weight codes for shape [{outChannels}, {inChannels}, {kernel}, {kernel}]");
        if (output.Length < oh * ow * outChannels) throw new ArgumentException($"strided conv: output has {output.Length} values, needs {oh * ow * outChannels}");
        int vectorBits = outChannels % 16 == 0 && Avx512BW.IsSupported ? 512
            : outChannels % 8 == 0 && Avx2.IsSupported ? 256
            : outChannels % 4 == 0 && Vector128.IsHardwareAccelerated ? 128 : 0;
        if (stride == kernel && pad == 0 && vectorBits > 0)
        {
            RunBlocks(codes, height, width, inChannels, weightsOihw, outChannels, kernel, za, zw, scale, output, vectorBits);
            return;
        }
        Reference(codes, height, width, inChannels, weightsOihw, outChannels, kernel, stride, pad, za, zw, scale, output);
    }

    /// <summary>The scalar truth (same arguments as <see cref="Run"/>, not validated again).</summary>
    public static void Reference(ReadOnlySpan<byte> codes, int height, int width, int inChannels,
        ReadOnlySpan<sbyte> weightsOihw, int outChannels, int kernel, int stride, int pad,
        int za, int zw, float scale, Span<float> output)
    {
        int oh = OutputSize(height, kernel, stride, pad), ow = OutputSize(width, kernel, stride, pad);
        for (int oy = 0; oy < oh; oy++)
            for (int ox = 0; ox < ow; ox++)
                for (int co = 0; co < outChannels; co++)
                {
                    int acc = 0, sumA = 0, sumW = 0, valid = 0;
                    for (int ky = 0; ky < kernel; ky++)
                    {
                        int iy = oy * stride + ky - pad;
                        if ((uint)iy >= (uint)height) continue;
                        for (int kx = 0; kx < kernel; kx++)
                        {
                            int ix = ox * stride + kx - pad;
                            if ((uint)ix >= (uint)width) continue;
                            valid++;
                            for (int ci = 0; ci < inChannels; ci++)
                            {
                                int a = codes[(iy * width + ix) * inChannels + ci];
                                int w = weightsOihw[((co * inChannels + ci) * kernel + ky) * kernel + kx];
                                acc += a * w;
                                sumA += a;
                                sumW += w;
                            }
                        }
                    }
                    long total = acc + (long)zw * sumA + (long)za * sumW + (long)za * zw * valid * inChannels;
                    output[(oy * ow + ox) * outChannels + co] = (float)total * scale;
                }
    }

    /// <summary>Stride = kernel, no padding (ClustBlock's conv1): every output reads its own
    /// k x k block, every tap valid. Each block's codes, widened to int16 pairs, are broadcast
    /// against 16 (AVX-512) or 8 (AVX2) output channels' weight pairs (vpmaddwd), or 4 with the
    /// cross-platform Vector128 API elsewhere (<paramref name="vectorBits"/>); the sums are the scalar loop's
    /// exactly, and the zero-point terms are added in int64 as there.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static unsafe void RunBlocks(ReadOnlySpan<byte> codes, int height, int width, int inChannels,
        ReadOnlySpan<sbyte> weightsOihw, int outChannels, int kernel, int za, int zw, float scale, Span<float> output, int vectorBits)
    {
        if (vectorBits == 512 ? !(Avx512BW.IsSupported && outChannels % 16 == 0) : vectorBits == 256 ? !(Avx2.IsSupported && outChannels % 8 == 0)
            : vectorBits != 128 || outChannels % 4 != 0)
            throw new NotSupportedException($"strided conv: no {vectorBits}-bit block path on this CPU for {outChannels} output channels");
        int oh = height / kernel, ow = width / kernel, k = kernel * kernel * inChannels, pairs = (k + 1) / 2;
        // weights as [pair][out][2] int16 over the block order (ky, kx, in), zero past k
        var wp = new short[pairs * outChannels * 2];
        var sumW = new long[outChannels];
        for (int co = 0; co < outChannels; co++)
            for (int ky = 0; ky < kernel; ky++)
                for (int kx = 0; kx < kernel; kx++)
                    for (int ci = 0; ci < inChannels; ci++)
                    {
                        int i = (ky * kernel + kx) * inChannels + ci;
                        sbyte v = weightsOihw[((co * inChannels + ci) * kernel + ky) * kernel + kx];
                        wp[((i / 2) * outChannels + co) * 2 + (i & 1)] = v;
                        sumW[co] += v;
                    }
        var block = new short[2 * pairs];
        var accs = new int[outChannels];
        fixed (short* pw = wp, pb = block)
        fixed (int* pa = accs)
            for (int oy = 0; oy < oh; oy++)
                for (int ox = 0; ox < ow; ox++)
                {
                    int sumA = 0;
                    for (int ky = 0; ky < kernel; ky++)
                        for (int j = 0; j < kernel * inChannels; j++)
                        {
                            int a = codes[((oy * kernel + ky) * width + ox * kernel) * inChannels + j];
                            pb[ky * kernel * inChannels + j] = (short)a;
                            sumA += a;
                        }
                    if (vectorBits == 512)
                        for (int co = 0; co < outChannels; co += 16)
                        {
                            var acc = Vector512<int>.Zero;
                            short* w = pw + co * 2;
                            for (int p = 0; p < pairs; p++, w += outChannels * 2)
                                acc += Avx512BW.MultiplyAddAdjacent(Vector512.Create(((int*)pb)[p]).AsInt16(), Vector512.Load(w));
                            acc.Store(pa + co);
                        }
                    else if (vectorBits == 256)
                        for (int co = 0; co < outChannels; co += 8)
                        {
                            var acc = Vector256<int>.Zero;
                            short* w = pw + co * 2;
                            for (int p = 0; p < pairs; p++, w += outChannels * 2)
                                acc += Avx2.MultiplyAddAdjacent(Vector256.Create(((int*)pb)[p]).AsInt16(), Vector256.Load(w));
                            acc.Store(pa + co);
                        }
                    else
                        for (int co = 0; co < outChannels; co += 4)
                        {
                            // the cross-platform API has no vpmaddwd: each lane sums the even or the
                            // odd taps' products (exact int16, |a·w| ≤ 255·128) of one channel, and
                            // the two lanes are added at the end: the same integer sum
                            Vector128<int> lo = default, hi = default;
                            short* w = pw + co * 2;
                            for (int p = 0; p < pairs; p++, w += outChannels * 2)
                            {
                                var (l, u) = Vector128.Widen(Vector128.Create(((int*)pb)[p]).AsInt16() * Vector128.Load(w));
                                lo += l; hi += u;
                            }
                            pa[co] = lo.GetElement(0) + lo.GetElement(1); pa[co + 1] = lo.GetElement(2) + lo.GetElement(3);
                            pa[co + 2] = hi.GetElement(0) + hi.GetElement(1); pa[co + 3] = hi.GetElement(2) + hi.GetElement(3);
                        }
                    var o = output.Slice((oy * ow + ox) * outChannels, outChannels);
                    for (int co = 0; co < outChannels; co++)
                        o[co] = (float)(accs[co] + (long)zw * sumA + za * sumW[co] + (long)za * zw * k) * scale;
                }
    }
}
