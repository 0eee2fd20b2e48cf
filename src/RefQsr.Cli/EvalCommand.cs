using System.Diagnostics;
using RefQsr.Engine.Imaging;
using RefQsr.Engine.Inference;
using RefQsr.Engine.Metrics;

namespace RefQsr.Cli;

/// <summary>SPEC §6 evaluation: crop HR to a multiple of the scale, MATLAB-bicubic LR,
/// super-resolve, PSNR and SSIM on Y with the scale shaved, plus BitOPs and FQR.</summary>
internal static class EvalCommand
{
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        var a = new ArgParser(args, Common.TilingFlags, [.. Common.TilingValued, "data", "limit"]);
        if (a.Positionals.Count != 0) throw CliException.Usage($"unexpected argument '{a.Positionals[0]}' (eval takes --data DIR)");
        string dir = a.Get("data") ?? throw CliException.Usage("eval needs --data DIR (a folder of HR images, or one with an HR/ subfolder)");
        if (Directory.Exists(Path.Combine(dir, "HR"))) dir = Path.Combine(dir, "HR");
        if (!Directory.Exists(dir)) throw new CliException($"data folder not found: {dir}");
        var files = Directory.GetFiles(dir).Where(f => f.EndsWith(".png", StringComparison.OrdinalIgnoreCase) || f.EndsWith(".jpg", StringComparison.OrdinalIgnoreCase)
            || f.EndsWith(".jpeg", StringComparison.OrdinalIgnoreCase) || f.EndsWith(".bmp", StringComparison.OrdinalIgnoreCase)).Order(StringComparer.Ordinal).ToList();
        int limit = a.GetInt("limit", int.MaxValue, 1, int.MaxValue);
        files = files.Take(limit).ToList();
        if (files.Count == 0) throw new CliException($"no PNG/JPEG/BMP images in {dir}");
        string full = Path.GetFullPath(dir).TrimEnd('/');
        string dataset = Path.GetFileName(full) == "HR" ? Path.GetFileName(Path.GetDirectoryName(full)!) : Path.GetFileName(full);
        var options = Common.Options(a);
        long maxPixels = a.GetLong("max-pixels", ImageFiles.DefaultMaxPixels, 1, long.MaxValue);
        var model = Common.LoadRunner(a);
        ComputeDevices.Check(options.Device, model.Net.Config);
        var (net, modelPath) = (model.Net, model.Path);
        bool refqsr = model.RefQsr is not null;
        int scale = net.Config.Scale;
        // every image checked before the first is evaluated: a bad one named now, not after an hour
        foreach (var f in files)
        {
            var (w, h) = ImageFiles.Check(f, maxPixels);
            if (w < scale || h < scale)
                throw new CliException($"{f}: {w}x{h} is smaller than the scale {scale}: an HR image needs at least {scale}x{scale} pixels");
        }
        bool json = a.Has("json");
        var rows = new List<Row>();
        var total = Stopwatch.StartNew();
        if (!json)
        {
            stdout.WriteLine($"{dataset}: {files.Count} images, {Path.GetFileNameWithoutExtension(modelPath)} ({net.Config.Describe()}), " +
                (options.FullImage ? "full image" : $"{options.PatchSize}-px patches"));
            stdout.WriteLine($"{"image",-24} {"LR size",10} {"PSNR",8} {"SSIM",7} {"BitOPs(G)",10} {"FQR",6}{(refqsr ? $" {"refs",6}" : "")} {"s",7}");
        }
        Common.WarnIfSlowPaths(stderr);
        using var cancel = new ConsoleCancellation(hook: ReferenceEquals(stderr, Console.Error));
        foreach (var f in files)
        {
            var hr = ImageFiles.Load(f, maxPixels);
            var lr = MatlabBicubic.Downscale(hr, scale);
            var cropped = hr.Crop(0, 0, lr.Width * scale, lr.Height * scale);
            UpscaleResult r;
            try { r = model.Run(lr, options with { Cancellation = cancel.Token }); }
            catch (OperationCanceledException) when (cancel.Token.IsCancellationRequested)
            {
                throw ConsoleCancellation.Cancelled($"after {rows.Count} of {files.Count} images, no averages");
            }
            var row = new Row(Path.GetFileName(f), lr.Width, lr.Height, ImageQuality.PsnrY(r.Image, cropped, scale),
                ImageQuality.SsimY(r.Image, cropped, scale), r.GigaBitOps, r.Fqr, r.ReferenceRatio, r.Elapsed.TotalSeconds, r.Device);
            rows.Add(row);
            if (!json)
                stdout.WriteLine($"{row.Image,-24} {$"{row.LrWidth}x{row.LrHeight}",10} {row.Psnr,8:F3} {row.Ssim,7:F4} {row.BitOpsG,10:F3} {row.Fqr,6:F2}{(refqsr ? $" {row.ReferenceRatio,6:P0}" : "")} {row.Seconds,7:F2}");
        }
        double psnr = rows.Average(r => r.Psnr), ssim = rows.Average(r => r.Ssim), bitops = rows.Average(r => r.BitOpsG);
        double fqr = FqrCounter.MeanOverImages(rows.Select(r => r.Fqr));
        double seconds = total.Elapsed.TotalSeconds;
        double? refRatio = refqsr ? rows.Average(r => r.ReferenceRatio!.Value) : null;
        if (json)
            Common.WriteJson(stdout, new EvalReport(dataset, Path.GetFileNameWithoutExtension(modelPath), net.Config.Describe(),
                options.FullImage ? 0 : options.PatchSize, rows.Count, Common.Round(psnr, 4), Common.Round(ssim, 5), Common.Round(bitops, 4),
                Common.Round(fqr, 4), refRatio is { } rr ? Common.Round(rr, 4) : null,
                model.ClustBlockPath is { } cb ? Path.GetFileNameWithoutExtension(cb) : null,
                Common.Round(seconds, 2), rows.Count > 0 ? rows[0].Device : "cpu",
                [.. rows.Select(r => new EvalImage(r.Image, Common.Round(r.Psnr, 4), Common.Round(r.Ssim, 5), Common.Round(r.BitOpsG, 4), r.Fqr,
                    r.ReferenceRatio is { } v ? Common.Round(v, 4) : null, Common.Round(r.Seconds, 3)))]), CliJson.Default.EvalReport);
        else
            stdout.WriteLine($"{"mean",-24} {"",10} {psnr,8:F3} {ssim,7:F4} {bitops,10:F3} {fqr,6:F2}{(refqsr ? $" {refRatio,6:P0}" : "")} {seconds,7:F1} total");
        return 0;
    }

    sealed record Row(string Image, int LrWidth, int LrHeight, double Psnr, double Ssim, double BitOpsG, double Fqr, double? ReferenceRatio, double Seconds, string Device);
}
