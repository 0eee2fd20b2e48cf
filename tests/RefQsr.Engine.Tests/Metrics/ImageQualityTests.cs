using RefQsr.Engine.Imaging;
using RefQsr.Engine.Metrics;

namespace RefQsr.Engine.Tests.Metrics;

public class ImageQualityTests
{
    private static RgbImage Gradient(int width, int height)
    {
        var image = new RgbImage(width, height);
        for (int y = 0; y < height; y++)
        {
            for (int x = 0; x < width; x++)
            {
                for (int c = 0; c < 3; c++)
                    image[x, y, c] = (byte)((x * 5 + y * 3 + c * 40) % 256);
            }
        }
        return image;
    }

    /// <summary>The pair of train/tools/ssim_reference.py (same integer formulas).</summary>
    private static (RgbImage Hr, RgbImage Sr) ReferencePair()
    {
        const int width = 40, height = 32;
        var hr = new RgbImage(width, height);
        var sr = new RgbImage(width, height);
        for (int y = 0; y < height; y++)
        {
            for (int x = 0; x < width; x++)
            {
                for (int c = 0; c < 3; c++)
                {
                    int a = (x * x * 3 + y * 7 + c * 50 + (x * y) % 13 * 5) % 256;
                    int b = Math.Clamp(a + ((x * 31 + y * 17 + c * 7) % 9 - 4) * 12, 0, 255);
                    hr[x, y, c] = (byte)a;
                    sr[x, y, c] = (byte)b;
                }
            }
        }
        return (hr, sr);
    }

    [Fact]
    public void IdenticalImagesHaveInfinitePsnrAndUnitSsim()
    {
        RgbImage image = Gradient(30, 25);
        Assert.Equal(double.PositiveInfinity, ImageQuality.PsnrY(image, image, 4));
        Assert.Equal(1.0, ImageQuality.SsimY(image, image, 4), 12);
    }

    [Fact]
    public void PsnrOfAConstantLumaOffsetIsHandComputable()
    {
        // Adding 1 to R only changes Y by 65.738/256 everywhere:
        // MSE = (65.738/256)^2, PSNR = 10 log10(255^2 / MSE) = 20 log10(255 * 256 / 65.738).
        var hr = new RgbImage(20, 20);
        var sr = new RgbImage(20, 20);
        for (int i = 0; i < hr.Pixels.Length; i += 3)
        {
            hr.Pixels[i] = 100;
            sr.Pixels[i] = 101;
        }
        double expected = 20 * Math.Log10(255.0 * 256 / 65.738);
        Assert.Equal(expected, ImageQuality.PsnrY(sr, hr, 4), 10);
        Assert.Equal(59.9393, ImageQuality.PsnrY(sr, hr, 4), 4);
    }

    [Fact]
    public void PsnrIgnoresTheShavedBorder()
    {
        RgbImage hr = Gradient(20, 16);
        RgbImage sr = Gradient(20, 16);
        sr[0, 0, 1] = 0;   // inside the 2-px border: ignored
        sr[19, 15, 0] = 0; // idem
        Assert.Equal(double.PositiveInfinity, ImageQuality.PsnrY(sr, hr, 2));
        Assert.NotEqual(double.PositiveInfinity, ImageQuality.PsnrY(sr, hr, 0));
    }

    [Fact]
    public void MatchesTheNumpyReference()
    {
        // Values printed by `/usr/bin/python3 train/tools/ssim_reference.py` (numpy 1.24,
        // PSNR from train/refqsr_train/metrics.py, SSIM with a direct 2-D Gaussian filter).
        var (hr, sr) = ReferencePair();
        Assert.Equal(24.177451792067, ImageQuality.PsnrY(sr, hr, 4), 9);
        Assert.Equal(0.926227602115, ImageQuality.SsimY(sr, hr, 4), 9);
        Assert.Equal(0.928174599254, ImageQuality.SsimY(sr, hr, 0), 9);
    }

    [Fact]
    public void RejectsMismatchedOrTooSmallImages()
    {
        Assert.Throws<ArgumentException>(() => ImageQuality.PsnrY(Gradient(10, 10), Gradient(10, 11), 0));
        Assert.Throws<ArgumentException>(() => ImageQuality.PsnrY(Gradient(8, 8), Gradient(8, 8), 4));
        Assert.Throws<ArgumentException>(() => ImageQuality.SsimY(Gradient(20, 20), Gradient(20, 20), 5));
        Assert.Throws<ArgumentException>(() => ImageQuality.SsimY(Gradient(20, 20), Gradient(20, 20), -1));
    }

    [Fact]
    public void LumaHasTheStudioOffset()
    {
        var image = new RgbImage(1, 1);
        Assert.Equal(16.0, Luma.FromRgb(image)[0]);
        image.Pixels.AsSpan().Fill(255);
        Assert.Equal((65.738 + 129.057 + 25.064) * 255 / 256 + 16, Luma.FromRgb(image)[0], 10);
    }
}
