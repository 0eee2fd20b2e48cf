using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using RefQsr.Engine.Diagnostics;
using RefQsr.Engine.Imaging;
using RefQsr.Engine.Inference;
using RefQsr.Engine.Networks;
using RefQsr.Kernels;

namespace RefQsr.Bench;

/// <summary>`compare`: the same work timed in our engine and in ONNX Runtime in one run
/// (ratios are ORT time / our time: above 1 means we are faster).</summary>
internal static class CompareCommand
{
    sealed record Row(string Name, int Threads, double OursMs, double? OrtMs, double? Gmacs, string Note)
    {
        public double? Ratio => OrtMs is { } o ? o / OursMs : null;
    }

    const int H = 96, W = 96, C = 64;
    /// <summary>One profiled run per whole-network configuration: where the time goes.</summary>
    static readonly List<(string Name, int Threads, double TotalMs, StageTimes Stages)> Profiles = [];
    const double ConvMacs = (double)H * W * C * C * 9;
    /// <summary>One core's vpmaddubsw + vpaddw ceiling, measured at the start of the run
    /// (<see cref="InstructionPeaks"/>); the 8-bit pair path's vpmaddwd ceiling beside it.</summary>
    static double int8PeakGmacsPerCore, pairPeakGmacsPerCore;
    /// <summary>What a second thread of vector work gets on this host in this run (<see cref="TwoThreadCeiling"/>).</summary>
    static TwoThreadCeiling.Samples twoThreads;

    public static int Run(string[] args)
    {
        bool quick = args.Contains("--quick"), json = args.Contains("--json");
        string root = RepoRoot();
        string models = Arg(args, "--onnx") ?? Path.Combine(root, "bench", "onnx", "models");
        string weights = Arg(args, "--weights") ?? Path.Combine(root, "weights");
        if (!File.Exists(Path.Combine(models, "conv_fp32.onnx")))
        {
            Console.Error.WriteLine($"compare: ONNX models not found in {models}; make them with bench/onnx/make_models.py (see bench/README.md)");
            return 1;
        }
        int8PeakGmacsPerCore = InstructionPeaks.Int16MaddGmacs();
        pairPeakGmacsPerCore = InstructionPeaks.PairMaddGmacs();
        twoThreads = TwoThreadCeiling.FmaScaling(quick ? 15 : 40);
        double budget = quick ? 1500 : 6000;
        int minRuns = quick ? 3 : 10;
        var rows = new List<Row>();
        int[] threadCounts = [1, 2];
        rows.AddRange(ConvRows(models, weights, threadCounts, minRuns, budget));
        rows.AddRange(NetworkRows(models, weights, quick ? [2] : threadCounts, quick ? 1 : 3, budget));

        string md = Markdown(rows, quick);
        // CPUs without AVX-512 take other kernel paths: their results go beside the AVX-512 ones
        string results = Arg(args, "--out") ?? Path.Combine(root, "bench", System.Runtime.Intrinsics.X86.Avx512BW.IsSupported ? "RESULTS.md" : "RESULTS-avx2.md");
        File.WriteAllText(results, md + KeptSections(results));
        if (json)
            Console.WriteLine(JsonSerializer.Serialize(rows.Select(r => new
            {
                name = r.Name, threads = r.Threads, ours_ms = Math.Round(r.OursMs, 3), ort_ms = r.OrtMs is { } o ? Math.Round(o, 3) : (double?)null,
                ratio = r.Ratio is { } x ? Math.Round(x, 3) : (double?)null, gmacs = r.Gmacs is { } g ? Math.Round(g, 1) : (double?)null, note = r.Note,
            }), new JsonSerializerOptions { WriteIndented = true }));
        else Console.WriteLine(md);
        return 0;
    }

    static IEnumerable<Row> ConvRows(string models, string weightsDir, int[] threads, int minRuns, double budget)
    {
        var bin = File.ReadAllBytes(Path.Combine(models, "conv_weights.bin"));
        var wf = new float[C * C * 9];
        Buffer.BlockCopy(bin, 0, wf, 0, wf.Length * 4);
        var r = new Random(1);
        var codes8 = Enumerable.Range(0, H * W * C).Select(_ => (byte)r.Next(256)).ToArray();
        var input = codes8.Select(c => (c - 128) * 0.02f).ToArray();
        var fw = new FloatConvWeights(wf, C, C, 3);
        float wMaxAbs = wf.Max(MathF.Abs);
        var fwDirect = new FloatConvWeights(wf, C, C, 3, FloatConvWeights.Algorithm.Direct);
        var outF = new float[H * W * C];
        var nextCodes = new byte[H * W * C];

        // ORT tensors are NCHW
        var nchwF = new DenseTensor<float>(ToNchw(input), [1, C, H, W]);
        var nchwU8 = new DenseTensor<byte>(ToNchw(codes8), [1, C, H, W]);
        foreach (int t in threads)
        {
            using var fp = Session(Path.Combine(models, "conv_fp32.onnx"), t);
            using var ql = Session(Path.Combine(models, "conv_qlinear.onnx"), t);
            var inF = new[] { NamedOnnxValue.CreateFromTensor("x", nchwF) };
            var inU8 = new[] { NamedOnnxValue.CreateFromTensor("x", nchwU8) };
            double ortF = Timing.MedianMs(() => { using var o = fp.Run(inF); }, minRuns, budget);
            double ortQ = Timing.MedianMs(() => { using var o = ql.Run(inU8); }, minRuns, budget);
            double oursF = Timing.MedianMs(() => FloatConv2d.Run(input, fw, outF, H, W, t), minRuns, budget);
            double oursD = Timing.MedianMs(() => FloatConv2d.Run(input, fwDirect, outF, H, W, t), minRuns, budget);
            string fpNote = fw.UsesWinograd ? "Winograd F(4x4,3x3); GMAC/s counts direct MACs" : "direct (no AVX-512: no Winograd)";
            if (t > 1) fpNote += ScalingNote(() => FloatConv2d.Run(input, fw, outF, H, W, 1), () => FloatConv2d.Run(input, fw, outF, H, W, t), minRuns, budget);
            yield return new Row("conv3x3 64->64 96x96 FP32 vs ORT Conv", t, oursF, ortF, ConvMacs / oursF / 1e6, fpNote);
            yield return new Row("conv3x3 64->64 96x96 FP32 direct vs ORT Conv", t, oursD, ortF, ConvMacs / oursD / 1e6, "the direct sum the Winograd path replaced");
            // same-width rows, plus the 4-bit activations with 6-bit weights of RefQSR's query path;
            // like QLinearConv (u8 in, requantized u8 out) each takes codes and writes the next
            // layer's codes (the epilogue's CodesOnly mode, as a ResBlock's conv1 runs)
            var convs = new List<(string Label, QuantConvWeights Weights, int ABits)>();
            foreach (var (wBits, aBits) in new[] { (8, 8), (6, 6), (6, 4), (4, 4), (3, 3), (2, 2) })
            {
                // scaled by the largest |w|, as ORT's int8 codes are (make_models.py) and as a
                // trained layer's codes come out: most are small, a few reach ±qmax
                int qmax = (1 << (wBits - 1)) - 1;
                convs.Add(($"w{wBits}a{aBits}", new QuantConvWeights(wf.Select(v => (sbyte)Math.Clamp(Math.Round(v / wMaxAbs * qmax), -qmax - 1, qmax)).ToArray(), C, C, wBits), aBits));
            }
            // the shipped RefQSR 8-4's own query layer (block 2's conv1 at b_medium 6, b_low 4):
            // trained weights whose 2-D Winograd transform leaves a byte, unlike the row above
            string refPath = Path.Combine(weightsDir, "srresnet-ddtb-refqsr-8-4.safetensors");
            if (File.Exists(refPath) && SrResNet.Load(refPath) is { Config.RefQsr: { } rq } refNet)
                convs.Add(($"w{rq.BMedium}a{rq.BLow} (srresnet-ddtb-refqsr-8-4 query layer body.1.conv1)", refNet.Blocks[1].Conv1.At(rq.BMedium).Weights, rq.BLow));
            Action? eightBit = null;
            foreach (var (label, wq, aBits) in convs)
            {
                var codes = codes8.Select(c => (byte)(c >> (8 - aBits))).ToArray();
                var next = new EpilogueOps { NextCodes = nextCodes, NextQuantizer = Engine.Quantization.Quantizer.Asymmetric(-2f, 2f, aBits).ForKernels, CodesOnly = true };
                Action conv = () => QuantConv3x3.RunWithEpilogue(codes, wq, H, W, -(1 << (aBits - 1)), 0, 0.01f, [], next, t);
                double ours = Timing.MedianMs(conv, minRuns, budget);
                // the targets that compare our own runs (lower bits against 8, two threads
                // against one) are timed alternately too, so the host's load hits both alike
                string own = "";
                if (eightBit is null) eightBit = conv;
                else
                {
                    var (eightMs, thisMs) = Timing.MedianPairMs(eightBit, conv, minRuns, 2 * budget);
                    own += string.Create(CultureInfo.InvariantCulture, $"; {eightMs / thisMs:F2}x our w8a8 (timed alternately)");
                }
                if (t > 1) own += ScalingNote(() => QuantConv3x3.RunWithEpilogue(codes, wq, H, W, -(1 << (aBits - 1)), 0, 0.01f, [], next, 1), conv, minRuns, budget);
                var path = QuantConv3x3.BestPath(wq, codes.Max());
                string weights = path switch
                {
                    QuantConvPath.Avx512Winograd => $"weights {wq.ResidentBytes / 1024.0:F0} KiB (bit-packed codes + int16 Winograd transform); GMAC/s counts direct MACs",
                    QuantConvPath.Avx512Winograd2x4 or QuantConvPath.Avx2Winograd2x4 or QuantConvPath.PortableWinograd2x4 => $"weights {wq.ResidentBytes / 1024.0:F0} KiB (bit-packed codes + int16 F(2x4) Winograd transform); GMAC/s counts direct MACs",
                    QuantConvPath.Avx512Winograd4x4 or QuantConvPath.Avx2Winograd4x4 or QuantConvPath.PortableWinograd4x4 => $"weights {wq.ResidentBytes / 1024.0:F0} KiB (bit-packed codes + int16 F(4x4) Winograd transform); GMAC/s counts direct MACs",
                    QuantConvPath.Avx512WinogradBytes => $"weights {wq.ResidentBytes / 1024.0:F0} KiB (bit-packed codes + byte Winograd transform); GMAC/s counts direct MACs",
                    QuantConvPath.Avx512WinogradRowBytes => $"weights {wq.ResidentBytes / 1024.0:F0} KiB (bit-packed codes + byte row Winograd transform); GMAC/s counts direct MACs",
                    QuantConvPath.AvxVnniWinograd => $"weights {wq.ResidentBytes / 1024.0:F0} KiB (bit-packed codes + byte Winograd transform, VNNI products); GMAC/s counts direct MACs",
                    QuantConvPath.AvxVnniWinogradRows => $"weights {wq.ResidentBytes / 1024.0:F0} KiB (bit-packed codes + byte row Winograd transform, VNNI products); GMAC/s counts direct MACs",
                    _ => $"weights {wq.ResidentBytes / 1024.0:F0} KiB bit-packed",
                };
                yield return new Row($"conv3x3 64->64 96x96 {label} vs ORT QLinearConv u8s8", t, ours, ortQ, ConvMacs / ours / 1e6,
                    $"kernel path {path}, {weights}; codes in, next codes out{own}");
            }
        }
    }

    /// <summary>"; N.NNx our one thread (timed alternately; ...)": the speed-up of
    /// <paramref name="many"/> threads over <paramref name="one"/>, both run in turn, each
    /// turn's timed call after an untimed one (the thread pool's workers awake, as they are
    /// between a network's layers). After every turn one short <see cref="TwoThreadCeiling"/>
    /// sample says what the host gave two threads of vector work at that moment.</summary>
    static string ScalingNote(Action one, Action many, int minRuns, double budget)
    {
        var host = new List<double>();
        var (oneMs, manyMs) = Timing.MedianPairMs(one, many, minRuns, 2 * budget, untimed: 1,
            between: () => host.Add(TwoThreadCeiling.Sample(1_000_000)));
        var h = TwoThreadCeiling.Summarize(host);
        return string.Create(CultureInfo.InvariantCulture,
            $"; {oneMs / manyMs:F2}x our one thread (timed alternately; between the turns, a vector FMA loop ran {h.Median:F2}x faster on two threads than on one, median of {h.Count})");
    }

    static IEnumerable<Row> NetworkRows(string models, string weights, int[] threads, int minRuns, double budget)
    {
        const int lw = 320, lh = 180;
        var lr = SyntheticScene.Create(lw, lh);
        var nchw = new float[3 * lh * lw];
        for (int p = 0; p < lh * lw; p++)
            for (int c = 0; c < 3; c++) nchw[c * lh * lw + p] = lr.Pixels[p * 3 + c];
        var tensor = new DenseTensor<float>(nchw, [1, 3, lh, lw]);
        foreach (int t in threads)
        {
            double? ortFp32 = null, ortQdq = null;
            foreach (var (file, set) in new[] { ("srresnet_fp32.onnx", 0), ("srresnet_qdq.onnx", 1) })
            {
                string p = Path.Combine(models, file);
                if (!File.Exists(p)) continue;
                using var s = Session(p, t);
                var inputs = new[] { NamedOnnxValue.CreateFromTensor("lr", tensor) };
                double ms = Timing.MedianMs(() => { using var o = s.Run(inputs); }, minRuns, budget);
                if (set == 0) ortFp32 = ms; else ortQdq = ms;
            }
            foreach (var name in new[] { "srresnet-fp32", "srresnet-ddtb-w8a8", "srresnet-ddtb-w4a4" })
            {
                string path = Path.Combine(weights, name + ".safetensors");
                if (!File.Exists(path)) continue;
                var up = new Upscaler(SrResNet.Load(path));
                var opts = new UpscaleOptions { FullImage = true, Threads = t };
                double ours = Timing.MedianMs(() => up.Run(lr, opts), minRuns, budget);
                Profile($"{name}, full image", t, opts, o => up.Run(lr, o));
                yield return new Row($"SRResNet x4 320x180 full image: {name} vs ORT FP32", t, ours, ortFp32, null, "");
                if (name != "srresnet-fp32")
                    yield return new Row($"SRResNet x4 320x180 full image: {name} vs ORT int8 QDQ", t, ours, ortQdq, null,
                        "ORT: per-channel weights, BN folded, u8 outputs (bench/onnx/make_models.py)");
            }
            foreach (var row in PatchRows(weights, lr, t, minRuns, budget, ortFp32)) yield return row;
        }
    }

    /// <summary>RefQSR runs on patches (SPEC §5: 72 px at this size), so it is compared with
    /// DDTB w8a8 on the same patches; ORT FP32 (full image) stays the outside reference.</summary>
    static IEnumerable<Row> PatchRows(string weights, RgbImage lr, int t, int minRuns, double budget, double? ortFp32)
    {
        const int patch = 72;
        string ddtbPath = Path.Combine(weights, "srresnet-ddtb-w8a8.safetensors");
        string refPath = Path.Combine(weights, "srresnet-ddtb-refqsr-8-4.safetensors");
        string cbPath = Path.Combine(weights, "clustblock-8bit.safetensors");
        if (!File.Exists(ddtbPath)) yield break;
        var opts = new UpscaleOptions { PatchSize = patch, Threads = t };
        var ddtb = new Upscaler(SrResNet.Load(ddtbPath));
        RefQsrUpscaler? refqsr = File.Exists(refPath) && File.Exists(cbPath) ? new RefQsrUpscaler(SrResNet.Load(refPath), ClustBlock.Load(cbPath)) : null;
        // the two are timed alternately, so that the host's load changes hit both alike
        var (ddtbMs, refMs) = refqsr is null
            ? (Timing.MedianMs(() => ddtb.Run(lr, opts), minRuns, budget), 0)
            : Timing.MedianPairMs(() => ddtb.Run(lr, opts), () => refqsr.Run(lr, opts), minRuns, 2 * budget);
        Profile($"srresnet-ddtb-w8a8, {patch}-px patches", t, opts, o => ddtb.Run(lr, o));
        var ddtbRun = ddtb.Run(lr, opts);
        yield return new Row($"SRResNet x4 320x180 {patch}-px patches: srresnet-ddtb-w8a8 vs ORT FP32 full image", t, ddtbMs, ortFp32, null,
            string.Create(CultureInfo.InvariantCulture, $"{ddtbRun.Grid.Patches.Count} patches, {ddtbRun.GigaBitOps:F2} G BitOPs"));
        if (refqsr is null) yield break;
        Profile($"srresnet-ddtb-refqsr-8-4, {patch}-px patches", t, opts, o => refqsr.Run(lr, o));
        var run = refqsr.Run(lr, opts);
        yield return new Row($"SRResNet x4 320x180 {patch}-px patches: srresnet-ddtb-refqsr-8-4 vs ORT FP32 full image", t, refMs, ortFp32, null,
            string.Create(CultureInfo.InvariantCulture,
                $"{ddtbMs / refMs:F2}x our DDTB w8a8 on the same patches (timed alternately); {run.Clusters!.ReferenceCount} of {run.Grid.Patches.Count} patches are references; {run.GigaBitOps:F2} G BitOPs"));
    }

    /// <summary>One more run of <paramref name="run"/> with its stages timed.</summary>
    static void Profile(string name, int threads, UpscaleOptions options, Func<UpscaleOptions, UpscaleResult> run)
    {
        var stages = new StageTimes();
        var r = run(options with { Profile = stages });
        Profiles.Add((name, threads, r.Elapsed.TotalMilliseconds, stages));
    }

    static InferenceSession Session(string path, int threads)
        => new(path, new SessionOptions
        {
            IntraOpNumThreads = threads, InterOpNumThreads = 1, ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
        });

    static T[] ToNchw<T>(T[] hwc)
    {
        var r = new T[hwc.Length];
        for (int p = 0; p < H * W; p++)
            for (int c = 0; c < C; c++) r[c * H * W + p] = hwc[p * C + c];
        return r;
    }

    static string Markdown(List<Row> rows, bool quick)
    {
        var sb = new StringBuilder();
        var ci = CultureInfo.InvariantCulture;
        sb.AppendLine("# Benchmark results: our engine vs ONNX Runtime");
        sb.AppendLine();
        sb.AppendLine($"Measured {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC on {Environment.ProcessorCount} cores (instruction sets {RefQsr.Kernels.CpuFeatures.Describe()}; {System.Runtime.InteropServices.RuntimeInformation.OSDescription.Trim()}, .NET {Environment.Version}, ONNX Runtime 1.31.1), {(quick ? "quick" : "full")} run.");
        sb.AppendLine("Re-run: `/usr/bin/python3 bench/onnx/make_models.py --fp32 weights/srresnet-fp32.safetensors --w8a8 weights/srresnet-ddtb-w8a8.safetensors` then");
        sb.AppendLine("`dotnet run --project bench/RefQsr.Bench -c Release -- compare [--quick] [--json] [--out FILE]` (written to bench/RESULTS.md on a CPU with AVX-512, bench/RESULTS-avx2.md on one without). Ratio = ORT time / our time, both measured in this run (median).");
        sb.AppendLine();
        sb.AppendLine("| work | threads | ours (ms) | ORT (ms) | ratio | our GMAC/s | of int8 peak | note |");
        sb.AppendLine("|---|---|---|---|---|---|---|---|");
        foreach (var r in rows)
        {
            string peak = r.Gmacs is { } g && double.IsFinite(int8PeakGmacsPerCore) && r.Name.Contains('w') && !r.Name.Contains("FP32") ? (g / (int8PeakGmacsPerCore * r.Threads)).ToString("P0", ci) : "";
            sb.AppendLine(string.Create(ci, $"| {r.Name} | {r.Threads} | {r.OursMs:F2} | {(r.OrtMs is { } o ? o.ToString("F2", ci) : "n/a")} | {(r.Ratio is { } x ? x.ToString("F2", ci) + "x" : "")} | {(r.Gmacs is { } gg ? gg.ToString("F1", ci) : "")} | {peak} | {r.Note} |"));
        }
        if (Profiles.Count > 0)
        {
            sb.AppendLine();
            sb.AppendLine("Where the time goes (one profiled run each, `UpscaleOptions.Profile`; seconds summed over patches, so with patches running on both threads the stages can add up to more than the run):");
            sb.AppendLine();
            var stages = Profiles.SelectMany(p => p.Stages.Totals.Select(t => t.Stage)).Distinct().ToList();
            sb.AppendLine("| run | threads | total (ms) | " + string.Join(" | ", stages) + " |");
            sb.AppendLine("|---|---|---|" + string.Concat(stages.Select(_ => "---|")));
            foreach (var (name, threads, total, times) in Profiles)
            {
                var byStage = times.Totals.ToDictionary(t => t.Stage, t => t.Seconds * 1000);
                sb.AppendLine(string.Create(ci, $"| {name} | {threads} | {total:F0} | ") + string.Join(" | ",
                    stages.Select(st => byStage.TryGetValue(st, out var ms) ? ms.ToString("F0", ci) + string.Create(ci, $" ({ms / total:P0})") : "")) + " |");
            }
        }
        sb.AppendLine();
        sb.AppendLine(string.Create(ci, $"Int8 peak: {int8PeakGmacsPerCore:F0} GMAC/s per core, measured in this run: vpmaddubsw + vpaddw on {InstructionPeaks.Registers} with the accumulators in registers, the instruction pair of the int16 path (`InstructionPeaks`; the 8-bit pair path's vpmaddwd + vpaddd: {pairPeakGmacsPerCore:F0} GMAC/s). SPEC §8's 420 GMAC/s was measured with loop-invariant inputs, which lets the JIT hoist the multiplies out of the loop, so it timed only the adds. Winograd rows (kernel paths Avx512Winograd, Avx512Winograd2x4, Avx512Winograd4x4, Avx2Winograd2x4, Avx2Winograd4x4, Avx512WinogradBytes, Avx512WinogradRowBytes, AvxVnniWinograd and AvxVnniWinogradRows, and FP32 Winograd) count the direct convolution's MACs: their GMAC/s is an effective rate, and their fraction of the peak says how far the algorithm gets past the instruction ceiling, not how busy the multiplier is."));
        sb.AppendLine(string.Create(ci, $"Two threads on this host, measured in this run (`TwoThreadCeiling`): a register-only FP32 FMA loop that fills one core's vector pipes ran {twoThreads.Median:F2}x faster on two threads than on one (median of {twoThreads.Count} samples, {twoThreads.Min:F2}x to {twoThreads.Max:F2}x; {twoThreads.AtLeast18} of {twoThreads.Count} at 1.8x or more). Where that falls to 1.0x the two vCPUs share one physical core's vector units, and no vector-bound kernel can scale past it while that lasts."));
        sb.AppendLine("The machine is shared and noisy: compare ratios within one run, not across runs. RefQSR 8-4 needs patches, so its rows compare it with DDTB w8a8 on the same 72-px patches (SPEC §5); the RefQSR model is short-trained (weights/srresnet-ddtb-refqsr-8-4.md), its speed does not depend on that. The conv notes \"Nx our w8a8\" and \"Nx our one thread\" time those two of our runs alternately (a, b, a, b, ...; for the threads, each timed call after an untimed one, so that the thread pool's workers are awake), as the RefQSR rows are: the host's load changes within seconds, so two rows' medians measured apart can differ by more than the code does.");
        sb.AppendLine("Our side runs with the CLI's GC setting (`System.GC.ConserveMemory` 7, docs/performance.md); whole-network rows are full-image runs of the same 320x180 input on both sides.");
        return sb.ToString();
    }

    /// <summary>Sections of the old RESULTS.md this command does not measure (the GPU
    /// timings, "## GPU ..."), carried over unchanged.</summary>
    static string KeptSections(string path)
    {
        if (!File.Exists(path)) return "";
        string old = File.ReadAllText(path);
        int at = old.IndexOf("\n## GPU", StringComparison.Ordinal);
        return at < 0 ? "" : old[at..];
    }

    static string? Arg(string[] args, string name)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }

    static string RepoRoot()
    {
        var d = new DirectoryInfo(AppContext.BaseDirectory);
        while (d is not null && !File.Exists(Path.Combine(d.FullName, "RefQsr.Engine.sln"))) d = d.Parent;
        return d?.FullName ?? Directory.GetCurrentDirectory();
    }
}
