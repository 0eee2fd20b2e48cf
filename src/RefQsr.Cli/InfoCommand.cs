using RefQsr.Engine.Inference;
using RefQsr.Engine.Tiling;

namespace RefQsr.Cli;

internal static class InfoCommand
{
    public static int Run(string[] args, TextWriter stdout)
    {
        var a = new ArgParser(args, Common.TilingFlags, [.. Common.TilingValued, "lr"]);
        if (a.Positionals.Count != 0) throw CliException.Usage($"unexpected argument '{a.Positionals[0]}'");
        var (w, h) = a.GetSize("lr", (1024, 540));
        var options = Common.Options(a);
        var (net, path) = Common.LoadModel(a);
        var grid = options.FullImage ? PatchGrid.FullImage(w, h) : PatchGrid.Create(w, h, options.PatchSize);
        var (bitOps, fqr) = new Upscaler(net).Cost(grid);
        var c = net.Config;
        if (a.Has("json"))
            Common.WriteJson(stdout, new
            {
                model = Path.GetFileNameWithoutExtension(path), file = path, description = c.Describe(),
                network = c.Network.ToString().ToLowerInvariant(), scale = c.Scale, channels = c.Channels, blocks = c.Blocks,
                quantizer = c.Quantizer.ToString().ToLowerInvariant(), w_bits = c.WeightBits, a_bits = c.ActivationBits,
                ddtb_gated = c.DdtbGated, parameters = net.ParameterCount,
                lr_width = w, lr_height = h, patch = options.FullImage ? 0 : options.PatchSize, patches = grid.Patches.Count,
                patch_area_lr_px = grid.TotalPatchArea, bitops_g = Common.Round(bitOps, 4), fqr = Common.Round(fqr, 4),
            });
        else
        {
            stdout.WriteLine($"model       {Path.GetFileNameWithoutExtension(path)} ({path})");
            stdout.WriteLine($"config      {c.Describe()}" + (c.DdtbGated.Count > 0 ? $", gated quantizers [{string.Join(", ", c.DdtbGated)}]" : ""));
            stdout.WriteLine($"parameters  {net.ParameterCount:N0}");
            stdout.WriteLine($"input       LR {w}x{h} -> HR {w * c.Scale}x{h * c.Scale}, " +
                (options.FullImage ? "full image" : $"{options.PatchSize}-px patches ({grid.Patches.Count} patches, {grid.TotalPatchArea:N0} LR px)"));
            stdout.WriteLine($"BitOPs      {bitOps:F2} G");
            stdout.WriteLine($"FQR         {fqr:F2}");
        }
        return 0;
    }
}
