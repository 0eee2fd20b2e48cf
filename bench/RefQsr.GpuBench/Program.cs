using System.Diagnostics;
using System.Text.Json;
using RefQsr.Engine.Gpu;
using RefQsr.Engine.Networks;
using RefQsr.Engine.Weights;
using RefQsr.Kernels;
using RefQsr.Kernels.Gpu;

namespace RefQsr.GpuBench;

/// <summary>The GPU backend's check and benchmark for the GPU machine (bench/gpu/run.sh):
/// 1. whole-network parity with the CPU engine on small random models and on the shipped
///    RefQSR 8-4 model (a reference and a query patch: activation codes, RefER argmax and
///    flow identical, HR difference), 2. the integer 3x3 conv alone, naive vs tiled kernel,
///    3. timings of a paper-size SRResNet (16 blocks, 64 channels) on one LR image, device
///    vs the CPU engine, 4. the shipped DDTB w8a8, w4a4 and RefQSR 8-4 models on a larger
///    LR image in patches (whole network and quantised body). Writes results.json to OUTDIR.
/// usage: RefQsr.GpuBench OUTDIR [--device cuda|ilgpu-cpu] [--lr WxH] [--repeats N] [--cpu-threads N]
///        [--weights DIR] [--patched-lr WxH] [--patch P] [--parity-only]</summary>
public static class Program
{
    public static int Main(string[] args)
    {
        if (args.Length < 1)
        {
            Console.Error.WriteLine("usage: RefQsr.GpuBench OUTDIR [--device cuda|ilgpu-cpu] [--lr WxH] [--repeats N] [--cpu-threads N] [--weights DIR] [--patched-lr WxH] [--patch P] [--parity-only]");
            return 2;
        }
        string outDir = args[0];
        string Opt(string name, string fallback) { int i = Array.IndexOf(args, "--" + name); return i >= 0 && i + 1 < args.Length ? args[i + 1] : fallback; }
        var backend = Opt("device", "cuda") == "ilgpu-cpu" ? GpuBackend.IlgpuCpu : GpuBackend.Cuda;
        var lrSize = Opt("lr", "320x180").Split('x').Select(int.Parse).ToArray();
        int repeats = int.Parse(Opt("repeats", "5")), cpuThreads = int.Parse(Opt("cpu-threads", Environment.ProcessorCount.ToString()));
        var patchedSize = Opt("patched-lr", "1024x540").Split('x').Select(int.Parse).ToArray();
        int patch = int.Parse(Opt("patch", "96"));
        bool parityOnly = args.Contains("--parity-only");
        // the shipped weights (bench/gpu/run.sh runs from the repository root)
        string weightsDir = Opt("weights", "weights");
        string refQsrModel = Path.Combine(weightsDir, "srresnet-ddtb-refqsr-8-4.safetensors");
        foreach (var f in new[] { refQsrModel, Path.Combine(weightsDir, "clustblock-8bit.safetensors"), Path.Combine(weightsDir, "srresnet-ddtb-w8a8.safetensors"), Path.Combine(weightsDir, "srresnet-ddtb-w4a4.safetensors") })
            if (!File.Exists(f)) { Console.Error.WriteLine($"RefQsr.GpuBench: {f} not found (run from the repository root, or pass --weights DIR)"); return 2; }
        Directory.CreateDirectory(outDir);
        var results = new Dictionary<string, object>();
        void Log(string s) { Console.WriteLine(s); File.AppendAllText(Path.Combine(outDir, "log.txt"), s + Environment.NewLine); }

        var sw = Stopwatch.StartNew();
        // the process-wide device: the upscalers of the patched timings reuse it
        var device = GpuDevice.Shared(backend);
        Log($"device: {backend} {device.Name}; opened and kernels compiled in {sw.Elapsed.TotalSeconds:F2} s");
        results["device"] = $"{backend} {device.Name}";
        results["open_seconds"] = sw.Elapsed.TotalSeconds;

        // 1. parity on small models
        var parity = new List<object>();
        bool allOk = true;
        foreach (var (name, q, bits, blocks, ch, gated, h, w) in new[]
        {
            ("ddtb8-gated-16ch", QuantizerKind.Ddtb, 8, 2, 16, new[] { 1, 2 }, 6, 8),
            ("pams4-16ch", QuantizerKind.Pams, 4, 2, 16, Array.Empty<int>(), 6, 8),
            ("fp32-16ch", QuantizerKind.None, 32, 2, 16, Array.Empty<int>(), 6, 8),
            ("ddtb4-gated-64ch", QuantizerKind.Ddtb, 4, 2, 64, new[] { 0 }, 6, 8),
            ("ddtb8-paper-48px", QuantizerKind.Ddtb, 8, 16, 64, new[] { 1, 10, 20 }, 48, 48),
        })
        {
            // direct FP32 convs: the device's summation order, so the HR floats can be compared bit for bit
            var net = SrResNet.Load(Models.SrResNet(q, bits, blocks, ch, gated), FloatConvWeights.Algorithm.Direct);
            var lr = Models.Image(h, w);
            var cpuTrace = new ForwardTrace();
            var cpu = net.Forward(lr, h, w, cpuThreads, cpuTrace);
            using var g = new GpuSrResNet(net, device);
            var gpuTrace = new ForwardTrace();
            var gpu = g.Forward(lr, h, w, gpuTrace);
            int codeMismatches = cpuTrace.Codes.Sum(kv => gpuTrace.Codes.TryGetValue(kv.Key, out var gc) ? kv.Value.Zip(gc).Count(p => p.First != p.Second) : kv.Value.Length);
            double maxDiff = cpu.Zip(gpu).Max(p => Math.Abs((double)p.First - p.Second));
            int exact = cpu.Zip(gpu).Count(p => p.First == p.Second);
            bool ok = codeMismatches == 0 && maxDiff <= 1e-2;
            allOk &= ok;
            Log($"parity {name,-18} {w}x{h}: code mismatches {codeMismatches} of {cpuTrace.Codes.Sum(kv => kv.Value.Length)}, HR max |diff| {maxDiff:G3}, bit-identical HR values {exact}/{cpu.Length} {(ok ? "OK" : "FAIL")}");
            parity.Add(new { name, width = w, height = h, code_mismatches = codeMismatches, hr_max_abs_diff = maxDiff, hr_identical = exact, hr_values = cpu.Length, ok });
        }
        parity.Add(RefQsrParity.Run(device, refQsrModel, cpuThreads, Log, ref allOk));
        results["parity"] = parity;
        if (parityOnly) return Finish();

        // 2. the integer conv alone (64→64 on the LR size): naive vs shared-memory tiles
        int lw = lrSize[0], lh = lrSize[1];
        results["integer_conv"] = ConvTiming.Run(device, lh, lw, repeats, Log, ref allOk);

        // 3. timing: paper-size model, one LR image as one patch
        var timings = new List<object>();
        foreach (var (name, q, bits) in new[] { ("ddtb-w8a8", QuantizerKind.Ddtb, 8), ("ddtb-w4a4", QuantizerKind.Ddtb, 4), ("fp32", QuantizerKind.None, 32) })
        {
            var net = SrResNet.Load(Models.SrResNet(q, bits, 16, 64, q == QuantizerKind.Ddtb ? [1, 10, 20] : []));
            var lr = Models.Image(lh, lw);
            using var g = new GpuSrResNet(net, device);
            sw.Restart();
            g.Forward(lr, lh, lw);
            double first = sw.Elapsed.TotalSeconds;
            var times = new List<double>();
            for (int r = 0; r < repeats; r++) { sw.Restart(); g.Forward(lr, lh, lw); times.Add(sw.Elapsed.TotalSeconds); }
            times.Sort();
            sw.Restart();
            net.Forward(lr, lh, lw, cpuThreads);
            double cpuSeconds = sw.Elapsed.TotalSeconds;
            Log($"time {name,-10} {lw}x{lh}: device first {first:F3} s, median {times[times.Count / 2]:F4} s (min {times[0]:F4}); CPU engine ({cpuThreads} threads) {cpuSeconds:F3} s");
            timings.Add(new { name, lr_width = lw, lr_height = lh, device_first_s = first, device_median_s = times[times.Count / 2], device_min_s = times[0], cpu_s = cpuSeconds, cpu_threads = cpuThreads });
        }
        results["timings"] = timings;

        // 4. the shipped models on a larger LR image in patches, as refqsr upscale runs them
        results["patched_timings"] = PatchedTiming.Run(backend, weightsDir, patchedSize[1], patchedSize[0], patch, repeats, cpuThreads, Log);
        return Finish();

        int Finish()
        {
            results["parity_ok"] = allOk;
            File.WriteAllText(Path.Combine(outDir, "results.json"), JsonSerializer.Serialize(results, new JsonSerializerOptions { WriteIndented = true }));
            Log(allOk ? "all parity checks passed" : "PARITY FAILED");
            return allOk ? 0 : 1;
        }
    }
}
