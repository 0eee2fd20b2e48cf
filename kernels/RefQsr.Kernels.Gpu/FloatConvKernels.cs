using ILGPU;

namespace RefQsr.Kernels.Gpu;

/// <summary>Device twin of <c>FloatConv2d</c>: stride-1 "same" FP32 conv, zero padding, no
/// bias, weights in PyTorch order [out][in][ky][kx], on a batch of NHWC samples. One thread per output; each output is a
/// chain of FMAs in the order the CPU kernel for these weights uses, so on an AVX-512/FMA CPU
/// the result is the same float (taps outside the image are skipped; the CPU adds 0·w, which
/// changes at most the sign of a zero).</summary>
public static class FloatConvKernels
{
    public static void Conv<TMath>(Index1D i, ArrayView<float> input, ArrayView<float> weights, ArrayView<float> output, FloatConvDims d)
        where TMath : struct, IDeviceMath
    {
        int co = i % d.OutChannels, p = i / d.OutChannels, samplePixels = d.Height * d.Width;
        int n = p / samplePixels, local = p - n * samplePixels;
        int y = local / d.Width, x = local - y * d.Width, first = n * samplePixels;
        int k = d.Kernel, pad = k / 2, cin = d.InChannels;
        float acc = 0f;
        if (d.ChannelMajor != 0)
        {
            for (int ci = 0; ci < cin; ci++)
                for (int ky = 0; ky < k; ky++)
                {
                    int iy = y + ky - pad;
                    if (iy < 0 || iy >= d.Height) continue;
                    for (int kx = 0; kx < k; kx++)
                    {
                        int ix = x + kx - pad;
                        if (ix < 0 || ix >= d.Width) continue;
                        acc = default(TMath).Fma(input[(first + iy * d.Width + ix) * cin + ci], weights[((co * cin + ci) * k + ky) * k + kx], acc);
                    }
                }
        }
        else
        {
            for (int ky = 0; ky < k; ky++)
            {
                int iy = y + ky - pad;
                if (iy < 0 || iy >= d.Height) continue;
                for (int kx = 0; kx < k; kx++)
                {
                    int ix = x + kx - pad;
                    if (ix < 0 || ix >= d.Width) continue;
                    int a0 = (first + iy * d.Width + ix) * cin, w0 = co * cin * k * k + ky * k + kx;
                    for (int ci = 0; ci < cin; ci++)
                        acc = default(TMath).Fma(input[a0 + ci], weights[w0 + ci * k * k], acc);
                }
            }
        }
        output[i] = acc;
    }
}
