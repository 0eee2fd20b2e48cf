using RefQsr.Engine.Inference;
using RefQsr.Engine.RefQsr;
using RefQsr.Engine.Tiling;

namespace RefQsr.Cli;

internal static class InfoCommand
{
    public static int Run(string[] args, TextWriter stdout)
    {
        var a = new ArgParser(args, Common.TilingFlags, [.. Common.TilingValued, "lr", "image"]);
        if (a.Positionals.Count != 0) throw CliException.Usage($"unexpected argument '{a.Positionals[0]}'");
        if (a.Has("lr") && a.Has("image")) throw CliException.Usage("--lr and --image exclude each other (the image gives the size)");
        var options = Common.Options(a);
        var lrSize = a.GetSize("lr", (1024, 540));   // usage errors before any file is read
        var model = Common.LoadRunner(a);
        var (net, path) = (model.Net, model.Path);
        var image = a.Get("image") is { } imagePath ? ImageFiles.Load(imagePath, a.GetLong("max-pixels", ImageFiles.DefaultMaxPixels, 1, long.MaxValue)) : null;
        var (w, h) = image is not null ? (image.Width, image.Height) : lrSize;
        var grid = options.FullImage ? PatchGrid.FullImage(w, h) : PatchGrid.Create(w, h, options.PatchSize);
        // RefQSR's cost depends on the pairing: exact with --image, else the bound where every patch is a reference
        ClusterAssignment? clusters = model.RefQsr is { } rq
            ? image is not null ? rq.Cluster(image, grid, options.Threads, options.Tau) : ClusterAssignment.AllReferences(grid.Patches.Count)
            : null;
        var (bitOps, fqr) = model.RefQsr is { } r ? r.Cost(grid, clusters!) : new Upscaler(net).Cost(grid);
        string? basis = clusters is null ? null : image is not null ? "clustered image" : "every patch a reference (pass --image to cluster one)";
        var c = net.Config;
        var paths = net.ConvPaths();
        var floatPaths = net.FloatConvPaths();
        if (a.Has("json"))
            Common.WriteJson(stdout, new InfoReport(Path.GetFileNameWithoutExtension(path), path, c.Describe(),
                c.Network.ToString().ToLowerInvariant(), c.Scale, c.Channels, c.Blocks, c.Quantizer.ToString().ToLowerInvariant(),
                c.WeightBits, c.ActivationBits, c.DdtbGated, net.ParameterCount, net.ResidentBytes,
                c.RefQsr is { } s ? new InfoRefQsr(s.BHigh, s.BLow, s.BMedium, s.Tau, s.RefErBlocks) : null,
                model.ClustBlockPath is { } cb ? Path.GetFileNameWithoutExtension(cb) : null,
                w, h, options.FullImage ? 0 : options.PatchSize, grid.Patches.Count, grid.TotalPatchArea,
                Common.Round(bitOps, 4), Common.Round(fqr, 4),
                clusters is not null && image is not null ? Common.Round(clusters.ReferenceRatio, 4) : null,
                image is not null ? clusters?.ReferenceCount : null, basis,
                [.. paths.Select(p => new InfoConvPath(p.Role, p.WeightBits, p.ActivationBits, p.Path.ToString(), p.Convs))],
                RefQsr.Kernels.CpuFeatures.Describe(), RefQsr.Kernels.CpuFeatures.Unused(),
                [.. floatPaths.Select(p => new InfoFloatConvPath(p.Layer, p.Kernel, p.InChannels, p.OutChannels, p.Algorithm, p.Convs))]),
                CliJson.Default.InfoReport);
        else
        {
            stdout.WriteLine($"model       {Path.GetFileNameWithoutExtension(path)} ({path})");
            stdout.WriteLine($"config      {c.Describe()}" + (c.DdtbGated.Count > 0 ? $", gated quantizers [{string.Join(", ", c.DdtbGated)}]" : ""));
            if (model.ClustBlockPath is not null) stdout.WriteLine($"clustblock  {model.ClustBlockPath}");
            stdout.WriteLine($"parameters  {net.ParameterCount:N0}");
            stdout.WriteLine($"resident    {net.ResidentBytes / 1048576.0:F1} MiB of weights in memory ({(c.IsQuantized ? "bit-packed codes per bit-width and the Winograd transforms their conv paths read, float head/upsampler/tail" : "float layouts and Winograd transforms")})");
            if (paths.Count > 0)
                stdout.WriteLine($"kernels     {string.Join("; ", paths.Select(p => $"{p.Role} w{p.WeightBits}a{p.ActivationBits}: {p.Path} x{p.Convs}"))} (integer conv paths on this CPU)");
            stdout.WriteLine($"cpu         {RefQsr.Kernels.CpuFeatures.Describe()} (instruction sets the kernels use)");
            if (RefQsr.Kernels.CpuFeatures.Unused() is { Count: > 0 } unused)
                stdout.WriteLine($"unused      {string.Join(", ", unused)}: the processor has them, this process does not use them " +
                    "(a DOTNET_Enable* setting, or a NativeAOT build for an older instruction set: docs/native.md)");
            stdout.WriteLine($"float convs {string.Join("; ", floatPaths.Select(p => $"{p.Layer} {p.Shape}: {p.Algorithm}" + (p.Convs > 1 ? $" x{p.Convs}" : "")))}");
            stdout.WriteLine($"input       LR {w}x{h} -> HR {w * c.Scale}x{h * c.Scale}, " +
                (options.FullImage ? "full image" : $"{options.PatchSize}-px patches ({grid.Patches.Count} patches, {grid.TotalPatchArea:N0} LR px)"));
            if (clusters is not null)
                stdout.WriteLine(image is not null
                    ? $"references  {clusters.ReferenceCount} of {grid.Patches.Count} patches ({clusters.ReferenceRatio:P1})"
                    : "references  depend on the image: cost below has every patch a reference (pass --image to cluster one)");
            stdout.WriteLine($"BitOPs      {bitOps:F2} G");
            stdout.WriteLine($"FQR         {fqr:F2}");
        }
        return 0;
    }
}
