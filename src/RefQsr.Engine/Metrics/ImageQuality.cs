using RefQsr.Engine.Imaging;

namespace RefQsr.Engine.Metrics;

/// <summary>PSNR and SSIM on Y with <c>shave</c> pixels cut from every border (SPEC §6).</summary>
public static class ImageQuality
{
    private const int SsimWindow = 11;
    private const double SsimSigma = 1.5;
    private const double C1 = 0.01 * 255 * (0.01 * 255);
    private const double C2 = 0.03 * 255 * (0.03 * 255);

    /// <summary>PSNR in dB on Y; +infinity for identical images.</summary>
    public static double PsnrY(RgbImage sr, RgbImage hr, int shave)
    {
        (double[] a, double[] b, _, _) = ShavedLuma(sr, hr, shave, minSize: 1);
        double sum = 0;
        for (int i = 0; i < a.Length; i++)
        {
            double d = a[i] - b[i];
            sum += d * d;
        }
        double mse = sum / a.Length;
        return mse == 0 ? double.PositiveInfinity : 10.0 * Math.Log10(255.0 * 255.0 / mse);
    }

    /// <summary>
    /// Mean SSIM on Y (Wang et al.; BasicSR <c>calculate_ssim</c> with test_y_channel):
    /// Gaussian 11x11 window, sigma 1.5, valid region only.
    /// </summary>
    public static double SsimY(RgbImage sr, RgbImage hr, int shave)
    {
        (double[] a, double[] b, int width, int height) = ShavedLuma(sr, hr, shave, minSize: SsimWindow);
        double[] kernel = GaussianKernel();
        int count = a.Length;
        var aa = new double[count];
        var bb = new double[count];
        var ab = new double[count];
        for (int i = 0; i < count; i++)
        {
            aa[i] = a[i] * a[i];
            bb[i] = b[i] * b[i];
            ab[i] = a[i] * b[i];
        }
        double[] muA = FilterValid(a, width, height, kernel);
        double[] muB = FilterValid(b, width, height, kernel);
        double[] meanAa = FilterValid(aa, width, height, kernel);
        double[] meanBb = FilterValid(bb, width, height, kernel);
        double[] meanAb = FilterValid(ab, width, height, kernel);

        double sum = 0;
        for (int i = 0; i < muA.Length; i++)
        {
            double muA2 = muA[i] * muA[i];
            double muB2 = muB[i] * muB[i];
            double muAB = muA[i] * muB[i];
            double varA = meanAa[i] - muA2;
            double varB = meanBb[i] - muB2;
            double cov = meanAb[i] - muAB;
            sum += (2 * muAB + C1) * (2 * cov + C2) / ((muA2 + muB2 + C1) * (varA + varB + C2));
        }
        return sum / muA.Length;
    }

    /// <summary>OpenCV getGaussianKernel(11, 1.5): exp(-x²/2σ²) normalised to sum 1.</summary>
    private static double[] GaussianKernel()
    {
        var kernel = new double[SsimWindow];
        double total = 0;
        for (int i = 0; i < SsimWindow; i++)
        {
            double x = i - SsimWindow / 2;
            kernel[i] = Math.Exp(-x * x / (2 * SsimSigma * SsimSigma));
            total += kernel[i];
        }
        for (int i = 0; i < SsimWindow; i++)
            kernel[i] /= total;
        return kernel;
    }

    /// <summary>Separable 2-D filtering with the outer product of <paramref name="kernel"/>, valid positions only.</summary>
    private static double[] FilterValid(double[] image, int width, int height, double[] kernel)
    {
        int n = kernel.Length;
        int outWidth = width - n + 1;
        int outHeight = height - n + 1;
        var horizontal = new double[height * outWidth];
        for (int y = 0; y < height; y++)
        {
            for (int x = 0; x < outWidth; x++)
            {
                double s = 0;
                int o = y * width + x;
                for (int k = 0; k < n; k++)
                    s += kernel[k] * image[o + k];
                horizontal[y * outWidth + x] = s;
            }
        }
        var result = new double[outHeight * outWidth];
        for (int y = 0; y < outHeight; y++)
        {
            for (int x = 0; x < outWidth; x++)
            {
                double s = 0;
                for (int k = 0; k < n; k++)
                    s += kernel[k] * horizontal[(y + k) * outWidth + x];
                result[y * outWidth + x] = s;
            }
        }
        return result;
    }

    private static (double[] A, double[] B, int Width, int Height) ShavedLuma(
        RgbImage sr, RgbImage hr, int shave, int minSize)
    {
        ArgumentNullException.ThrowIfNull(sr);
        ArgumentNullException.ThrowIfNull(hr);
        if (sr.Width != hr.Width || sr.Height != hr.Height)
            throw new ArgumentException(
                $"SR image is {sr.Width}x{sr.Height} but HR image is {hr.Width}x{hr.Height}; they must match.", nameof(sr));
        if (shave < 0)
            throw new ArgumentException($"Shave must not be negative, got {shave}.", nameof(shave));
        int width = hr.Width - 2 * shave;
        int height = hr.Height - 2 * shave;
        if (width < minSize || height < minSize)
            throw new ArgumentException(
                $"A {hr.Width}x{hr.Height} image shaved by {shave} px leaves {width}x{height}; at least {minSize}x{minSize} is needed.",
                nameof(shave));
        return (Shave(Luma.FromRgb(sr), hr.Width, shave, width, height),
                Shave(Luma.FromRgb(hr), hr.Width, shave, width, height), width, height);
    }

    private static double[] Shave(double[] y, int fullWidth, int shave, int width, int height)
    {
        if (shave == 0)
            return y;
        var result = new double[width * height];
        for (int row = 0; row < height; row++)
            y.AsSpan((row + shave) * fullWidth + shave, width).CopyTo(result.AsSpan(row * width));
        return result;
    }
}
