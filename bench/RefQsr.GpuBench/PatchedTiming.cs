using System.Diagnostics;
using RefQsr.Engine.Gpu;
using RefQsr.Engine.Imaging;
using RefQsr.Engine.Inference;
using RefQsr.Engine.Networks;
using RefQsr.Kernels.Gpu;

namespace RefQsr.GpuBench;

/// <summary>The shipped DDTB w8a8, w4a4 and RefQSR 8-4 models on one LR image tiled into
/// patches (SPEC §5), as `refqsr upscale` runs them: the whole network on the device (first
/// call, median and minimum of the repeats; RefQSR includes its ClustBlock and pairing,
/// which run on the host), the quantised body alone (ResBlocks and RefER, timed between
/// device synchronisations), the CPU engine once, and the largest HR byte difference.</summary>
internal static class PatchedTiming
{
    public static List<object> Run(GpuBackend backend, string weightsDir, int lh, int lw, int patch, int repeats, int cpuThreads, Action<string> log)
    {
        var lr = new RgbImage(lw, lh, Models.Image(lh, lw).Select(v => (byte)v).ToArray());
        var device = backend == GpuBackend.Cuda ? ComputeDevice.Cuda : ComputeDevice.IlgpuCpu;
        var options = new UpscaleOptions { PatchSize = patch, Threads = cpuThreads, Device = device };
        var rows = new List<object>();
        foreach (var (name, file) in new[] { ("ddtb-w8a8", "srresnet-ddtb-w8a8"), ("ddtb-w4a4", "srresnet-ddtb-w4a4"), ("refqsr-8-4", "srresnet-ddtb-refqsr-8-4") })
        {
            var net = SrResNet.Load(Path.Combine(weightsDir, file + ".safetensors"));
            var clust = net.Config.RefQsr is null ? null : ClustBlock.Load(Path.Combine(weightsDir, "clustblock-8bit.safetensors"));
            Func<UpscaleOptions, UpscaleResult> run = clust is null ? o => new Upscaler(net).Run(lr, o) : o => new RefQsrUpscaler(net, clust).Run(lr, o);
            var gpu = GpuBackends.For(net, backend);
            var body = gpu.BodyTimer = new Stopwatch();
            var sw = Stopwatch.StartNew();
            var result = run(options);
            double first = sw.Elapsed.TotalSeconds;
            var whole = new List<double>();
            var bodies = new List<double>();
            for (int r = 0; r < repeats; r++)
            {
                body.Reset();
                sw.Restart();
                run(options);
                whole.Add(sw.Elapsed.TotalSeconds);
                bodies.Add(body.Elapsed.TotalSeconds);
            }
            gpu.BodyTimer = null;
            whole.Sort();
            bodies.Sort();
            sw.Restart();
            var cpu = run(options with { Device = ComputeDevice.Cpu });
            double cpuSeconds = sw.Elapsed.TotalSeconds;
            int maxByteDiff = cpu.Image.Pixels.Zip(result.Image.Pixels).Max(p => Math.Abs(p.First - p.Second));
            string refs = result.Clusters is { } c ? $", {c.ReferenceCount} references" : "";
            log($"time {name,-10} {lw}x{lh} in {result.Grid.Patches.Count} patches of {patch} px{refs}: device first {first:F3} s, " +
                $"median {whole[whole.Count / 2]:F4} s (min {whole[0]:F4}), body median {bodies[bodies.Count / 2]:F4} s; " +
                $"CPU engine ({cpuThreads} threads) {cpuSeconds:F3} s; HR max byte diff {maxByteDiff}");
            rows.Add(new
            {
                name, lr_width = lw, lr_height = lh, patch, patches = result.Grid.Patches.Count, references = result.Clusters?.ReferenceCount,
                device_first_s = first, device_median_s = whole[whole.Count / 2], device_min_s = whole[0],
                body_median_s = bodies[bodies.Count / 2], body_min_s = bodies[0], cpu_s = cpuSeconds, cpu_threads = cpuThreads, hr_max_byte_diff = maxByteDiff,
            });
        }
        return rows;
    }
}
