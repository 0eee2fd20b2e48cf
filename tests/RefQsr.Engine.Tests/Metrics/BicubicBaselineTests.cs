using RefQsr.Cli;
using RefQsr.Engine.Imaging;
using RefQsr.Engine.Metrics;
using Xunit.Abstractions;

namespace RefQsr.Engine.Tests.Metrics;

/// <summary>The whole SPEC §6 protocol (crop, MATLAB-bicubic LR, PSNR/SSIM on Y with the
/// scale shaved) applied to bicubic x4 upscaling reproduces the numbers the SR literature
/// publishes for bicubic: Set5 28.42 dB / 0.8104, BSD100 25.96 dB / 0.6675. Needs the data
/// sets in ../shared/data (present in CI); without them there is nothing to measure.</summary>
public class BicubicBaselineTests(ITestOutputHelper output)
{
    static string? DataRoot()
    {
        var d = new DirectoryInfo(AppContext.BaseDirectory);
        while (d is not null && !File.Exists(Path.Combine(d.FullName, "RefQsr.Engine.sln"))) d = d.Parent;
        string? p = d is null ? null : Path.Combine(d.FullName, "..", "shared", "data");
        return p is not null && Directory.Exists(Path.Combine(p, "Set5", "HR")) ? p : null;
    }

    [Theory]
    [InlineData("Set5", 28.42, 0.8104)]
    [InlineData("BSD100", 25.96, 0.6675)]
    // Set14: the literature's 26.00 / 0.7027 come from a slightly different copy of the set;
    // this pins the value measured on ../shared/data's copy (the one the README quotes)
    [InlineData("Set14", 26.09, 0.7050)]
    public void BicubicMatchesThePublishedBaseline(string set, double psnr, double ssim)
    {
        string? root = DataRoot();
        if (root is null)
        {
            output.WriteLine("../shared/data not found: nothing to measure");
            return;
        }
        var files = Directory.GetFiles(Path.Combine(root, set, "HR")).Order(StringComparer.Ordinal).ToList();
        double p = 0, s = 0;
        foreach (var f in files)
        {
            var hr = ImageFiles.Load(f, long.MaxValue);
            var lr = MatlabBicubic.Downscale(hr, 4);
            var crop = hr.Crop(0, 0, lr.Width * 4, lr.Height * 4);
            var up = MatlabBicubic.UpscaleToDoubles(lr, 4);
            var img = new RgbImage(crop.Width, crop.Height);
            for (int i = 0; i < up.Length; i++) img.Pixels[i] = (byte)Math.Clamp(Math.Round(up[i]), 0, 255);
            p += ImageQuality.PsnrY(img, crop, 4);
            s += ImageQuality.SsimY(img, crop, 4);
        }
        p /= files.Count;
        s /= files.Count;
        output.WriteLine($"{set} bicubic: PSNR {p:F3} dB, SSIM {s:F4}");
        Assert.Equal(psnr, p, 0.02);
        Assert.Equal(ssim, s, 0.002);
    }
}
