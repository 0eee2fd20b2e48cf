using System.Diagnostics;
using System.Runtime.CompilerServices;
using RefQsr.Engine.Diagnostics;
using RefQsr.Engine.Gpu;
using RefQsr.Engine.Imaging;
using RefQsr.Engine.Metrics;
using RefQsr.Engine.Networks;
using RefQsr.Engine.Tiling;
using RefQsr.Kernels.Gpu;

namespace RefQsr.Engine.Inference;

/// <summary>Tiles an LR image (SPEC §5), runs the network on every patch, merges the HR
/// patches. With several threads, patches run concurrently when there are enough of
/// them, otherwise the rows of each conv are split; either way every patch is computed
/// by the same arithmetic, so the output bytes do not depend on the thread count.</summary>
public sealed class Upscaler(SrResNet network)
{
    public SrResNet Network { get; } = network;
    public int Scale => Network.Config.Scale;

    public UpscaleResult Run(RgbImage lr, UpscaleOptions options)
    {
        ArgumentNullException.ThrowIfNull(lr);
        options.Validate();
        ComputeDevices.Check(options.Device, Network.Config);
        var sw = Stopwatch.StartNew();
        var grid = options.FullImage ? PatchGrid.FullImage(lr.Width, lr.Height) : PatchGrid.Create(lr.Width, lr.Height, options.PatchSize);
        var hr = new RgbImage(checked(lr.Width * Scale), checked(lr.Height * Scale));
        var patches = grid.Patches;
        int threads = options.Threads;
        var run = new PatchRun(options, patches.Count);
        string device = run.Cancellable(() =>
        {
            if (RuntimeFeature.IsDynamicCodeSupported && GpuBackends.Resolve(options.Device, Network) is { } backend)
            {
                // one device: the patches of each size as batches, each forward entirely on the device
                var gpu = GpuBackends.For(Network, backend);
                foreach (var (h, w, indices) in PatchBatches.BySize(patches, Enumerable.Range(0, patches.Count)))
                {
                    run.ThrowIfCancelled();
                    var outputs = gpu.ForwardBatch(PatchBatches.Inputs(lr, patches, indices), indices.Length, h, w);
                    for (int k = 0; k < indices.Length; k++) PatchMerger.WritePatch(hr, patches[indices[k]], Scale, outputs[k]);
                    run.Finished(indices.Length);
                }
                return $"{(backend == GpuBackend.Cuda ? "cuda" : "ilgpu-cpu")} ({gpu.Device.Name})";
            }
            if (threads > 1 && patches.Count >= threads)
                Parallel.For(0, patches.Count, new ParallelOptions { MaxDegreeOfParallelism = threads, CancellationToken = run.Token },
                    i => RunPatch(lr, hr, patches[i], 1, options.Profile, run));
            else
                foreach (var p in patches) RunPatch(lr, hr, p, threads, options.Profile, run);
            return "cpu";
        });
        var (bitOps, fqr) = Cost(grid);
        return new UpscaleResult(hr, grid, bitOps, fqr, sw.Elapsed) { Device = device };
    }

    void RunPatch(RgbImage lr, RgbImage hr, Patch p, int threads, StageTimes? times, PatchRun run)
    {
        run.ThrowIfCancelled();
        var input = ToFloats(lr, p.X, p.Y, p.Width, p.Height);
        var output = Network.Forward(input, p.Height, p.Width, threads, null, times, run.Token);
        PatchMerger.WritePatch(hr, p, Scale, output);
        ExactLengthArrays.Return(output);
        run.Finished();
    }

    /// <summary>BitOPs (G) and FQR of running this model on a grid (SPEC §7).</summary>
    public (double GigaBitOps, double Fqr) Cost(PatchGrid grid)
    {
        var prec = Network.DefaultPrecision;
        int w = Math.Min(prec.WeightBits, BitOpsCounter.FullPrecisionBits), a = Math.Min(prec.ActivationBits, BitOpsCounter.FullPrecisionBits);
        // the 2·blocks quantized 3x3 convs of every patch (SPEC §7); counted from the
        // config so a model with another depth or width is still counted right
        var bitOps = new BitOpsCounter();
        int ch = Network.Config.Channels;
        foreach (var p in grid.Patches)
            bitOps.AddConvs(2 * Network.Config.Blocks, Complexity.Conv3x3Macs(p.Width, p.Height, ch, ch), w, a);
        var fqr = new FqrCounter();
        var bits = Enumerable.Repeat(a, 2 * Network.Config.Blocks).ToArray();
        foreach (var _ in grid.Patches) fqr.AddPatch(bits);
        return (bitOps.GigaBitOps, fqr.Fqr);
    }

    internal static float[] ToFloats(RgbImage img, int x0, int y0, int w, int h)
    {
        var f = new float[w * h * 3];
        for (int y = 0; y < h; y++)
        {
            var row = img.Pixels.AsSpan(((y0 + y) * img.Width + x0) * 3, w * 3);
            for (int i = 0; i < row.Length; i++) f[y * w * 3 + i] = row[i];
        }
        return f;
    }
}
