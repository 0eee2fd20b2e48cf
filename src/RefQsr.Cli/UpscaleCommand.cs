using RefQsr.Engine;
using RefQsr.Engine.Diagnostics;
using RefQsr.Engine.Inference;

namespace RefQsr.Cli;

internal static class UpscaleCommand
{
    const string UsageLine = "usage: refqsr upscale IN OUT [--model M] [--clustblock C] [--clusters MAP.png] [--patch P | --full-image] [--threads N] [--profile]" +
                             " (IN and OUT may be folders: every image in IN, written to OUT as NAME.png; IN or OUT - is standard input or output)";

    /// <summary>IN or OUT "-": standard input or output, as byte streams.</summary>
    const string StandardStream = "-";

    public static int Run(string[] args, TextWriter stdout, TextWriter stderr, Func<Stream> stdinBytes, Func<Stream> stdoutBytes)
    {
        var a = new ArgParser(args, [.. Common.TilingFlags, "profile"], [.. Common.TilingValued, "clusters"]);
        if (a.Positionals.Count != 2) throw CliException.Usage(UsageLine);
        string input = a.Positionals[0], output = a.Positionals[1];
        return input != StandardStream && Directory.Exists(input)
            ? Folder(a, input, output, stdout, stderr)
            : OneFile(a, input, output, stdout, stderr, stdinBytes, stdoutBytes);
    }

    static int OneFile(ArgParser a, string input, string output, TextWriter stdout, TextWriter stderr, Func<Stream> stdinBytes, Func<Stream> stdoutBytes)
    {
        string? clusterMap = a.Get("clusters");
        bool fromStdin = input == StandardStream, toStdout = output == StandardStream;
        if (toStdout && a.Has("json")) throw CliException.Usage("--json writes to standard output, which OUT - gives to the image; name an output file to get both");
        if (!fromStdin && !toStdout && ImageFiles.SameFile(input, output)) throw CliException.Usage($"refusing to overwrite the input image {input}");
        if (!toStdout && !output.EndsWith(".png", StringComparison.OrdinalIgnoreCase)) throw CliException.Usage($"output must be a .png file (or - for standard output), got {output}");
        if (clusterMap is not null)
        {
            if (!clusterMap.EndsWith(".png", StringComparison.OrdinalIgnoreCase)) throw CliException.Usage($"--clusters must name a .png file, got {clusterMap}");
            if ((!fromStdin && ImageFiles.SameFile(input, clusterMap)) || (!toStdout && ImageFiles.SameFile(output, clusterMap)))
                throw CliException.Usage($"--clusters {clusterMap} would overwrite the input or the output image");
        }
        if (!toStdout) ImageFiles.CheckOutputFolder(output);
        if (clusterMap is not null) ImageFiles.CheckOutputFolder(clusterMap);
        var options = Common.Options(a) with { Profile = a.Has("profile") ? new StageTimes() : null };
        long maxPixels = a.GetLong("max-pixels", ImageFiles.DefaultMaxPixels, 1, long.MaxValue);
        var image = fromStdin ? ImageFiles.Read(stdinBytes(), maxPixels) : ImageFiles.Read(input, maxPixels);
        var model = Common.LoadRunner(a);
        ComputeDevices.Check(options.Device, model.Net.Config);
        if (clusterMap is not null && model.RefQsr is null)
            throw CliException.Usage($"--clusters needs a RefQSR model; {Path.GetFileName(model.Path)} is a {model.Net.Config.Describe()}");
        bool json = a.Has("json");
        if (!json) stderr.WriteLine($"upscaling {image.Rgb.Width}x{image.Rgb.Height} with {Path.GetFileName(model.Path)} ({model.Net.Config.Describe()})");
        Common.WarnIfSlowPaths(stderr);   // after every check, so that an error stays one line
        var result = UpscaleAndSave(model, image, toStdout ? null : output, options, stderr, progress: !json, toStdout ? stdoutBytes() : null);
        if (clusterMap is not null) ImageFiles.SavePng(ClusterMapImage.Draw(image.Rgb, result.Grid, result.Clusters!), clusterMap, colour: image.Colour, density: image.Density);
        if (json)
            Common.WriteJson(stdout, Report(input, output, model, image, result, options) with { Clusters = clusterMap }, CliJson.Default.ImageReport);
        else
        {
            // with the image on standard output, the words go to stderr
            var words = toStdout ? stderr : stdout;
            words.WriteLine(Summary(toStdout ? "standard output" : output, image, result) + (clusterMap is not null ? $"; cluster map {clusterMap}" : ""));
            if (options.Profile is { } profile) WriteProfile(words, profile);
        }
        return 0;
    }

    static void WriteProfile(TextWriter stdout, StageTimes profile)
    {
        stdout.WriteLine("time per stage, summed over patches:");
        foreach (var (stage, seconds) in profile.Totals)
            stdout.WriteLine($"  {stage,-48} {seconds,8:F3} s");
    }

    /// <summary>Every PNG, JPEG and BMP in the folder IN (not its subfolders), each written to
    /// OUT/NAME.png with the model loaded once. An image that cannot be read or fails its
    /// model's arithmetic is reported and skipped; the others are still written, and the exit
    /// code is 1 if any failed. Ctrl+C stops between images or patches (exit code 130).</summary>
    static int Folder(ArgParser a, string input, string output, TextWriter stdout, TextWriter stderr)
    {
        if (a.Has("clusters")) throw CliException.Usage("--clusters takes one image, not a folder");
        if (File.Exists(output)) throw CliException.Usage($"IN is a folder, so OUT must be one too; {output} is a file");
        if (ImageFiles.SameFile(input, output)) throw CliException.Usage($"refusing to write into the input folder {input} (its PNGs would be overwritten)");
        var inputs = Directory.EnumerateFiles(input).Where(ImageFiles.IsReadable).Order(StringComparer.Ordinal).ToList();
        if (inputs.Count == 0) throw new CliException($"no PNG, JPEG or BMP images in {input}");
        var outputs = inputs.Select(f => Path.Combine(output, Path.GetFileNameWithoutExtension(f) + ".png")).ToList();
        if (outputs.GroupBy(o => o, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1) is { } clash)
            throw CliException.Usage($"two inputs would both be written to {clash.Key}: " +
                string.Join(" and ", inputs.Where((_, i) => outputs[i] == clash.Key).Select(Path.GetFileName)));
        var options = Common.Options(a) with { Profile = a.Has("profile") ? new StageTimes() : null };
        long maxPixels = a.GetLong("max-pixels", ImageFiles.DefaultMaxPixels, 1, long.MaxValue);
        var model = Common.LoadRunner(a);
        ComputeDevices.Check(options.Device, model.Net.Config);
        Directory.CreateDirectory(output);
        bool json = a.Has("json");
        if (!json) stderr.WriteLine($"upscaling {inputs.Count} images from {input} with {Path.GetFileName(model.Path)} ({model.Net.Config.Describe()})");
        Common.WarnIfSlowPaths(stderr);
        var written = new List<ImageReport>();
        var failed = new List<FailedImage>();
        for (int i = 0; i < inputs.Count; i++)
        {
            try
            {
                var image = ImageFiles.Read(inputs[i], maxPixels);
                var own = options with { Profile = options.Profile is null ? null : new StageTimes() };
                var result = UpscaleAndSave(model, image, outputs[i], own, stderr, progress: !json, label: $"{i + 1}/{inputs.Count}");
                written.Add(Report(inputs[i], outputs[i], model, image, result, own));
                if (!json)
                {
                    stdout.WriteLine(Summary(outputs[i], image, result));
                    if (own.Profile is { } profile) WriteProfile(stdout, profile);
                }
            }
            catch (Exception e) when (e is ModelArithmeticException || e is CliException { ExitCode: 1 })
            {
                failed.Add(new FailedImage(inputs[i], e.Message));
                stderr.WriteLine($"refqsr: {Path.GetFileName(inputs[i])} skipped: {e.Message.ReplaceLineEndings(" ")}");
            }
        }
        if (json) Common.WriteJson(stdout, new FolderReport(written, failed), CliJson.Default.FolderReport);
        if (failed.Count > 0) throw new CliException($"{failed.Count} of {inputs.Count} images failed (named above); the other {written.Count} were written");
        return 0;
    }

    /// <summary>Runs the model with Ctrl+C and terminal progress, then writes the PNG (alpha
    /// scaled by bicubic, colour information carried over) to the file <paramref name="output"/>, or
    /// with it null to <paramref name="stream"/>; a cancelled run writes nothing.</summary>
    static UpscaleResult UpscaleAndSave(Common.Model model, LoadedImage image, string? output, UpscaleOptions options, TextWriter stderr,
        bool progress, Stream? stream = null, string? label = null)
    {
        UpscaleResult result;
        using (var cancel = new ConsoleCancellation(hook: ReferenceEquals(stderr, Console.Error)))
        using (var shown = progress && ConsoleProgress.Wanted(stderr) ? new ConsoleProgress(stderr, label is null ? "upscaling:" : $"upscaling {label}:") : null)
        {
            try { result = model.Run(image.Rgb, options with { Cancellation = cancel.Token, Progress = shown }); }
            catch (OperationCanceledException) when (cancel.Token.IsCancellationRequested) { throw ConsoleCancellation.Cancelled($"{output ?? "standard output"} not written"); }
        }
        // the network sees RGB; a transparent input keeps its alpha, scaled by bicubic
        var alpha = image.Alpha is null ? null : ImageFiles.UpscaleAlpha(image.Alpha, image.Rgb.Width, image.Rgb.Height, model.Net.Config.Scale);
        if (output is not null) ImageFiles.SavePng(result.Image, output, alpha, image.Colour, image.Density);
        else
        {
            ImageFiles.WritePng(result.Image, stream!, alpha, image.Colour, image.Density);
            stream!.Flush();
        }
        return result;
    }

    static string Summary(string output, LoadedImage image, UpscaleResult result)
        => $"wrote {output} ({result.Image.Width}x{result.Image.Height}) from {result.Grid.Patches.Count} patch(es): " +
           $"{result.GigaBitOps:F2} G BitOPs, FQR {result.Fqr:F2}, " +
           (result.Clusters is { } c ? $"{c.ReferenceCount} reference(s) ({c.ReferenceRatio:P1}), " : "") +
           $"{result.Elapsed.TotalSeconds:F2} s on {result.Device}" +
           (image.Alpha is not null ? "; alpha channel scaled by bicubic (the network sees RGB)" : "") +
           (image.SourceBits > 8 ? $"; the input's {image.SourceBits} bits per channel were read and written as 8" : "");

    static ImageReport Report(string input, string output, Common.Model model, LoadedImage image, UpscaleResult result, UpscaleOptions options)
        => new(input, output, Path.GetFileNameWithoutExtension(model.Path), image.Rgb.Width, image.Rgb.Height, result.Image.Width, result.Image.Height,
            result.Grid.Patches.Count, Common.Round(result.GigaBitOps, 4), Common.Round(result.Fqr, 4), Ratio(result), result.Clusters?.ReferenceCount,
            null, image.Alpha is null ? null : "bicubic", image.SourceBits, Common.Round(result.Elapsed.TotalSeconds, 3), result.Device,
            options.Profile?.Totals.ToDictionary(t => t.Stage, t => Common.Round(t.Seconds, 4)));

    internal static double? Ratio(UpscaleResult r) => r.ReferenceRatio is { } v ? Common.Round(v, 4) : null;
}
