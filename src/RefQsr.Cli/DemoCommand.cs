using RefQsr.Engine.Imaging;
using RefQsr.Engine.Inference;
using RefQsr.Engine.Metrics;

namespace RefQsr.Cli;

/// <summary>The whole job on a scene the project draws itself: HR scene → MATLAB-bicubic
/// LR → bicubic and SR x4, written side by side with PSNR and BitOPs.</summary>
internal static class DemoCommand
{
    public static int Run(string[] args, TextWriter stdout)
    {
        var a = new ArgParser(args, ["full-image"], ["out", "model", "threads", "patch", "size", "device"]);
        string outDir = a.Get("out") ?? "refqsr-demo";
        var (w, h) = a.GetSize("size", (320, 240));
        var options = Common.Options(a);
        var (net, modelPath) = Common.LoadModel(a);
        ComputeDevices.Check(options.Device, net.Config);
        int scale = net.Config.Scale;
        Directory.CreateDirectory(outDir);

        var hr = SyntheticScene.Create(w - w % scale, h - h % scale);
        var lr = MatlabBicubic.Downscale(hr, scale);
        var bicubic = ToImage(MatlabBicubic.UpscaleToDoubles(lr, scale), hr.Width, hr.Height);
        var sr = new Upscaler(net).Run(lr, options);

        double psnrBic = ImageQuality.PsnrY(bicubic, hr, scale), psnrSr = ImageQuality.PsnrY(sr.Image, hr, scale);
        double ssimBic = ImageQuality.SsimY(bicubic, hr, scale), ssimSr = ImageQuality.SsimY(sr.Image, hr, scale);
        ImageFiles.SavePng(lr, Path.Combine(outDir, "lr.png"));
        ImageFiles.SavePng(bicubic, Path.Combine(outDir, "bicubic.png"));
        ImageFiles.SavePng(sr.Image, Path.Combine(outDir, "sr.png"));
        ImageFiles.SavePng(hr, Path.Combine(outDir, "hr.png"));
        string sideBySide = Path.Combine(outDir, "side-by-side.png");
        ImageFiles.SavePng(SideBySide([Nearest(lr, scale), bicubic, sr.Image, hr]), sideBySide);

        stdout.WriteLine($"model     {Path.GetFileNameWithoutExtension(modelPath)} ({net.Config.Describe()})");
        stdout.WriteLine($"scene     {hr.Width}x{hr.Height} HR, drawn by SyntheticScene; LR {lr.Width}x{lr.Height} by MATLAB bicubic");
        stdout.WriteLine($"bicubic   PSNR {psnrBic:F2} dB  SSIM {ssimBic:F4}");
        stdout.WriteLine($"SR x{scale}     PSNR {psnrSr:F2} dB  SSIM {ssimSr:F4}  ({psnrSr - psnrBic:+0.00;-0.00} dB vs bicubic)");
        stdout.WriteLine($"cost      {sr.GigaBitOps:F3} G BitOPs, FQR {sr.Fqr:F2}, {sr.Elapsed.TotalSeconds:F2} s on {sr.Device}, {sr.Grid.Patches.Count} patch(es)");
        stdout.WriteLine($"wrote     {sideBySide} (LR nearest | bicubic | SR | ground truth) and lr/bicubic/sr/hr.png");
        return 0;
    }

    static RgbImage ToImage(double[] v, int w, int h)
    {
        var img = new RgbImage(w, h);
        for (int i = 0; i < v.Length; i++) img.Pixels[i] = (byte)Math.Clamp(Math.Round(v[i]), 0, 255);
        return img;
    }

    static RgbImage Nearest(RgbImage lr, int s)
    {
        var img = new RgbImage(lr.Width * s, lr.Height * s);
        for (int y = 0; y < img.Height; y++)
            for (int x = 0; x < img.Width; x++)
                for (int c = 0; c < 3; c++) img[x, y, c] = lr[x / s, y / s, c];
        return img;
    }

    static RgbImage SideBySide(IReadOnlyList<RgbImage> panels)
    {
        const int gap = 4;
        int h = panels.Max(p => p.Height), w = panels.Sum(p => p.Width) + gap * (panels.Count - 1);
        var img = new RgbImage(w, h);
        Array.Fill(img.Pixels, (byte)255);
        int x0 = 0;
        foreach (var p in panels)
        {
            for (int y = 0; y < p.Height; y++)
                p.Pixels.AsSpan(y * p.Width * 3, p.Width * 3).CopyTo(img.Pixels.AsSpan((y * w + x0) * 3));
            x0 += p.Width + gap;
        }
        return img;
    }
}
