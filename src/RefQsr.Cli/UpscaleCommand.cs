using RefQsr.Engine.Diagnostics;
using RefQsr.Engine.Inference;

namespace RefQsr.Cli;

internal static class UpscaleCommand
{
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        var a = new ArgParser(args, [.. Common.TilingFlags, "profile"], [.. Common.TilingValued, "clusters"]);
        if (a.Positionals.Count != 2) throw CliException.Usage("usage: refqsr upscale IN OUT [--model M] [--clustblock C] [--clusters MAP.png] [--patch P | --full-image] [--threads N] [--profile]");
        string input = a.Positionals[0], output = a.Positionals[1];
        string? clusterMap = a.Get("clusters");
        if (ImageFiles.SameFile(input, output)) throw CliException.Usage($"refusing to overwrite the input image {input}");
        if (!output.EndsWith(".png", StringComparison.OrdinalIgnoreCase)) throw CliException.Usage($"output must be a .png file, got {output}");
        if (clusterMap is not null)
        {
            if (!clusterMap.EndsWith(".png", StringComparison.OrdinalIgnoreCase)) throw CliException.Usage($"--clusters must name a .png file, got {clusterMap}");
            if (ImageFiles.SameFile(input, clusterMap) || ImageFiles.SameFile(output, clusterMap))
                throw CliException.Usage($"--clusters {clusterMap} would overwrite the input or the output image");
        }
        var options = Common.Options(a) with { Profile = a.Has("profile") ? new StageTimes() : null };
        long maxPixels = a.GetLong("max-pixels", ImageFiles.DefaultMaxPixels, 1, long.MaxValue);
        var (lr, alpha, icc) = ImageFiles.Read(input, maxPixels);
        var model = Common.LoadRunner(a);
        ComputeDevices.Check(options.Device, model.Net.Config);
        if (clusterMap is not null && model.RefQsr is null)
            throw CliException.Usage($"--clusters needs a RefQSR model; {Path.GetFileName(model.Path)} is a {model.Net.Config.Describe()}");
        if (!a.Has("json")) stderr.WriteLine($"upscaling {lr.Width}x{lr.Height} with {Path.GetFileName(model.Path)} ({model.Net.Config.Describe()})");
        UpscaleResult result;
        using (var cancel = new ConsoleCancellation(hook: ReferenceEquals(stderr, Console.Error)))
        using (var progress = ConsoleProgress.Wanted(stderr) && !a.Has("json") ? new ConsoleProgress(stderr, "upscaling:") : null)
        {
            try { result = model.Run(lr, options with { Cancellation = cancel.Token, Progress = progress }); }
            catch (OperationCanceledException) when (cancel.Token.IsCancellationRequested) { throw ConsoleCancellation.Cancelled($"{output} not written"); }
        }
        // the network sees RGB; a transparent input keeps its alpha, scaled by bicubic
        ImageFiles.SavePng(result.Image, output, alpha is null ? null : ImageFiles.UpscaleAlpha(alpha, lr.Width, lr.Height, model.Net.Config.Scale), icc);
        if (clusterMap is not null) ImageFiles.SavePng(ClusterMapImage.Draw(lr, result.Grid, result.Clusters!), clusterMap);
        if (a.Has("json"))
            Common.WriteJson(stdout, new
            {
                input, output, model = Path.GetFileNameWithoutExtension(model.Path),
                lr_width = lr.Width, lr_height = lr.Height, hr_width = result.Image.Width, hr_height = result.Image.Height,
                patches = result.Grid.Patches.Count, bitops_g = Common.Round(result.GigaBitOps, 4), fqr = Common.Round(result.Fqr, 4),
                reference_ratio = Ratio(result), references = result.Clusters?.ReferenceCount, clusters = clusterMap,
                alpha = alpha is null ? null : "bicubic",
                seconds = Common.Round(result.Elapsed.TotalSeconds, 3), device = result.Device,
                stage_seconds = options.Profile?.Totals.ToDictionary(t => t.Stage, t => Common.Round(t.Seconds, 4)),
            });
        else
        {
            stdout.WriteLine($"wrote {output} ({result.Image.Width}x{result.Image.Height}) from {result.Grid.Patches.Count} patch(es): " +
                $"{result.GigaBitOps:F2} G BitOPs, FQR {result.Fqr:F2}, " +
                (result.Clusters is { } c ? $"{c.ReferenceCount} reference(s) ({c.ReferenceRatio:P1}), " : "") +
                $"{result.Elapsed.TotalSeconds:F2} s on {result.Device}" + (clusterMap is not null ? $"; cluster map {clusterMap}" : "") +
                (alpha is not null ? "; alpha channel scaled by bicubic (the network sees RGB)" : ""));
            if (options.Profile is { } profile)
            {
                stdout.WriteLine("time per stage, summed over patches:");
                foreach (var (stage, seconds) in profile.Totals)
                    stdout.WriteLine($"  {stage,-48} {seconds,8:F3} s");
            }
        }
        return 0;
    }

    internal static double? Ratio(UpscaleResult r) => r.ReferenceRatio is { } v ? Common.Round(v, 4) : null;
}
