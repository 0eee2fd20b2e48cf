using RefQsr.Engine.Inference;

namespace RefQsr.Cli;

internal static class UpscaleCommand
{
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        var a = new ArgParser(args, Common.TilingFlags, Common.TilingValued);
        if (a.Positionals.Count != 2) throw CliException.Usage("usage: refqsr upscale IN OUT [--model M] [--patch P | --full-image] [--threads N]");
        string input = a.Positionals[0], output = a.Positionals[1];
        if (ImageFiles.SameFile(input, output)) throw CliException.Usage($"refusing to overwrite the input image {input}");
        if (!output.EndsWith(".png", StringComparison.OrdinalIgnoreCase)) throw CliException.Usage($"output must be a .png file, got {output}");
        var options = Common.Options(a);
        long maxPixels = a.GetLong("max-pixels", ImageFiles.DefaultMaxPixels, 1, long.MaxValue);
        var lr = ImageFiles.Load(input, maxPixels);
        var (net, modelPath) = Common.LoadModel(a);
        if (!a.Has("json")) stderr.WriteLine($"upscaling {lr.Width}x{lr.Height} with {Path.GetFileName(modelPath)} ({net.Config.Describe()})");
        var result = new Upscaler(net).Run(lr, options);
        ImageFiles.SavePng(result.Image, output);
        if (a.Has("json"))
            Common.WriteJson(stdout, new
            {
                input, output, model = Path.GetFileNameWithoutExtension(modelPath),
                lr_width = lr.Width, lr_height = lr.Height, hr_width = result.Image.Width, hr_height = result.Image.Height,
                patches = result.Grid.Patches.Count, bitops_g = Common.Round(result.GigaBitOps, 4), fqr = Common.Round(result.Fqr, 4),
                seconds = Common.Round(result.Elapsed.TotalSeconds, 3),
            });
        else
            stdout.WriteLine($"wrote {output} ({result.Image.Width}x{result.Image.Height}) from {result.Grid.Patches.Count} patch(es): " +
                $"{result.GigaBitOps:F2} G BitOPs, FQR {result.Fqr:F2}, {result.Elapsed.TotalSeconds:F2} s");
        return 0;
    }
}
