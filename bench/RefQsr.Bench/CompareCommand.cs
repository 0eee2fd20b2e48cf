using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
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
    const double ConvMacs = (double)H * W * C * C * 9;
    /// <summary>SPEC §8: one core's Avx512BW int16 multiply-add inner-loop peak.</summary>
    const double Int8PeakGmacsPerCore = 420;

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
        double budget = quick ? 1500 : 6000;
        int minRuns = quick ? 3 : 10;
        var rows = new List<Row>();
        int[] threadCounts = [1, 2];
        rows.AddRange(ConvRows(models, threadCounts, minRuns, budget));
        rows.AddRange(NetworkRows(models, weights, quick ? [2] : threadCounts, quick ? 1 : 3, budget));

        string md = Markdown(rows, quick);
        File.WriteAllText(Path.Combine(root, "bench", "RESULTS.md"), md);
        if (json)
            Console.WriteLine(JsonSerializer.Serialize(rows.Select(r => new
            {
                name = r.Name, threads = r.Threads, ours_ms = Math.Round(r.OursMs, 3), ort_ms = r.OrtMs is { } o ? Math.Round(o, 3) : (double?)null,
                ratio = r.Ratio is { } x ? Math.Round(x, 3) : (double?)null, gmacs = r.Gmacs is { } g ? Math.Round(g, 1) : (double?)null, note = r.Note,
            }), new JsonSerializerOptions { WriteIndented = true }));
        else Console.WriteLine(md);
        return 0;
    }

    static IEnumerable<Row> ConvRows(string models, int[] threads, int minRuns, double budget)
    {
        var bin = File.ReadAllBytes(Path.Combine(models, "conv_weights.bin"));
        var wf = new float[C * C * 9];
        Buffer.BlockCopy(bin, 0, wf, 0, wf.Length * 4);
        var r = new Random(1);
        var codes8 = Enumerable.Range(0, H * W * C).Select(_ => (byte)r.Next(256)).ToArray();
        var input = codes8.Select(c => (c - 128) * 0.02f).ToArray();
        var fw = new FloatConvWeights(wf, C, C, 3);
        var outF = new float[H * W * C];
        var acc = new int[H * W * C];

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
            yield return new Row("conv3x3 64->64 96x96 FP32 vs ORT Conv", t, oursF, ortF, ConvMacs / oursF / 1e6, "");
            foreach (int bits in new[] { 8, 6, 4, 3, 2 })
            {
                var codes = codes8.Select(c => (byte)(c >> (8 - bits))).ToArray();
                var wq = new QuantConvWeights(wf.Select(v => (sbyte)Math.Clamp(Math.Round(v / 0.05 * ((1 << (bits - 1)) - 1)), -(1 << (bits - 1)), (1 << (bits - 1)) - 1)).ToArray(), C, C);
                double ours = Timing.MedianMs(() =>
                {
                    QuantConv3x3.Run(codes, wq, acc, H, W, t);
                    QuantConvEpilogue.Dequantize(codes, acc, wq, H, W, -(1 << (bits - 1)), 0, 0.01f, outF);
                }, minRuns, budget);
                yield return new Row($"conv3x3 64->64 96x96 w{bits}a{bits} vs ORT QLinearConv u8s8", t, ours, ortQ, ConvMacs / ours / 1e6,
                    $"kernel path {QuantConv3x3.BestPath(wq, codes.Max())}");
            }
        }
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
                yield return new Row($"SRResNet x4 320x180 full image: {name} vs ORT FP32", t, ours, ortFp32, null, "");
                if (name != "srresnet-fp32")
                    yield return new Row($"SRResNet x4 320x180 full image: {name} vs ORT int8 QDQ", t, ours, ortQdq, null,
                        "ORT: per-channel weights, BN folded, u8 outputs (bench/onnx/make_models.py)");
            }
        }
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
        sb.AppendLine($"Measured {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC on {Environment.ProcessorCount} cores ({System.Runtime.InteropServices.RuntimeInformation.OSDescription.Trim()}, .NET {Environment.Version}, ONNX Runtime 1.31.1), {(quick ? "quick" : "full")} run.");
        sb.AppendLine("Re-run: `/usr/bin/python3 bench/onnx/make_models.py --fp32 weights/srresnet-fp32.safetensors --w8a8 weights/srresnet-ddtb-w8a8.safetensors` then");
        sb.AppendLine("`dotnet run --project bench/RefQsr.Bench -c Release -- compare [--quick] [--json]`. Ratio = ORT time / our time, both measured in this run (median).");
        sb.AppendLine();
        sb.AppendLine("| work | threads | ours (ms) | ORT (ms) | ratio | our GMAC/s | of int8 peak | note |");
        sb.AppendLine("|---|---|---|---|---|---|---|---|");
        foreach (var r in rows)
        {
            string peak = r.Gmacs is { } g && r.Name.Contains('w') && !r.Name.Contains("FP32") ? (g / (Int8PeakGmacsPerCore * r.Threads)).ToString("P0", ci) : "";
            sb.AppendLine(string.Create(ci, $"| {r.Name} | {r.Threads} | {r.OursMs:F2} | {(r.OrtMs is { } o ? o.ToString("F2", ci) : "n/a")} | {(r.Ratio is { } x ? x.ToString("F2", ci) + "x" : "")} | {(r.Gmacs is { } gg ? gg.ToString("F1", ci) : "")} | {peak} | {r.Note} |"));
        }
        sb.AppendLine();
        sb.AppendLine("Int8 peak: 420 GMAC/s per core, the Avx512BW int16 multiply-add inner loop measured on this CPU (SPEC §8). Not measured yet: RefQSR 8-4 on the whole network (no trained RefQSR model ships).");
        sb.AppendLine("Our side runs with the CLI's GC setting (`System.GC.ConserveMemory` 7, docs/performance.md); whole-network rows are full-image runs of the same 320x180 input on both sides.");
        return sb.ToString();
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
