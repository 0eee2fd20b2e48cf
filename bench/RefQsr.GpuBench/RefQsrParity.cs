using System.Runtime.InteropServices;
using ILGPU.Runtime;
using RefQsr.Engine.Gpu;
using RefQsr.Engine.Networks;
using RefQsr.Engine.RefQsr;
using RefQsr.Kernels;
using RefQsr.Kernels.Gpu;

namespace RefQsr.GpuBench;

/// <summary>The shipped RefQSR model (weights/srresnet-ddtb-refqsr-8-4) on the device against
/// the CPU engine, one reference and one query patch of another size: every activation code
/// (body.{i}.q, body.{i}.qlow, refer.{j}.q1/q2), the kept reference features, each RefER
/// block's cost-volume argmax and pixel flow, and the HR of both patches.</summary>
internal static class RefQsrParity
{
    public static object Run(GpuDevice device, string modelPath, int cpuThreads, Action<string> log, ref bool allOk)
    {
        var net = SrResNet.Load(modelPath, FloatConvWeights.Algorithm.Direct);   // the device's FP32 summation order
        var s = net.Config.RefQsr ?? throw new ArgumentException($"{modelPath} is not a RefQSR model");
        int ch = net.Config.Channels;
        // the two patches of a 36x24 LR image at 18-px patches: 18x24 and the stretched 24x24
        const int rh = 24, rw = 18, qh = 24, qw = 24;
        var lrRef = Models.Image(rh, rw, seed: 4);
        var lrQuery = Models.Image(qh, qw, seed: 6);
        using var gpu = new GpuSrResNet(net, device);

        var cpuRefTrace = new ForwardTrace();
        var (cpuRefHr, cpuFeatures) = net.ForwardReference(lrRef, rh, rw, cpuThreads, cpuRefTrace);
        var gpuRefTrace = new ForwardTrace();
        var (gpuRefHr, gpuFeatures) = gpu.ForwardReference(lrRef, rh, rw, keepFeatures: true, gpuRefTrace);
        using var kept = gpuFeatures!;
        int mismatches = Mismatches(cpuRefTrace, gpuRefTrace);
        int featureMismatches = 0;
        for (int k = 0; k < s.RefErBlocks.Count; k++)
            featureMismatches += cpuFeatures.RefErInputs[k].Zip(kept.Inputs[k].GetAsArray1D()).Count(p => p.First != p.Second);

        var cpuTrace = new ForwardTrace();
        var cpuHr = net.ForwardQuery(lrQuery, qh, qw, cpuFeatures, cpuThreads, cpuTrace);
        var gpuTrace = new ForwardTrace();
        var gpuHr = gpu.ForwardQuery(lrQuery, qh, qw, kept, gpuTrace);
        mismatches += Mismatches(cpuTrace, gpuTrace);
        int matchMismatches = MatchAndFlowMismatches(net, lrQuery, qh, qw, cpuFeatures, gpuTrace, cpuThreads);

        double maxDiff = Math.Max(MaxDiff(cpuRefHr, gpuRefHr), MaxDiff(cpuHr, gpuHr));
        int codes = cpuRefTrace.Codes.Sum(kv => kv.Value.Length) + cpuTrace.Codes.Sum(kv => kv.Value.Length);
        bool ok = mismatches == 0 && featureMismatches == 0 && matchMismatches == 0 && maxDiff <= 1e-2;
        allOk &= ok;
        log($"parity refqsr-8-4 ref {rw}x{rh}, query {qw}x{qh}: code mismatches {mismatches} of {codes}, kept-feature mismatches {featureMismatches}, " +
            $"argmax/flow mismatches {matchMismatches}, HR max |diff| {maxDiff:G3} {(ok ? "OK" : "FAIL")}");
        return new { name = "refqsr-8-4", code_mismatches = mismatches, kept_feature_mismatches = featureMismatches, argmax_flow_mismatches = matchMismatches, hr_max_abs_diff = maxDiff, ok };
    }

    static int Mismatches(ForwardTrace cpu, ForwardTrace gpu)
        => cpu.Codes.Sum(kv => gpu.Codes.TryGetValue(kv.Key, out var g) ? kv.Value.Zip(g).Count(p => p.First != p.Second) : kv.Value.Length);

    static double MaxDiff(float[] a, float[] b) => a.Zip(b).Max(p => Math.Abs((double)p.First - p.Second));

    /// <summary>The CPU query path step by step: differing argmax indices and flow values of every RefER block.</summary>
    static int MatchAndFlowMismatches(SrResNet net, float[] lr, int h, int w, SrResNet.ReferenceFeatures reference, ForwardTrace gpuTrace, int threads)
    {
        var s = net.Config.RefQsr!;
        int ch = net.Config.Channels, mismatches = 0;
        var x = net.Head(lr, h, w, threads);
        var high = new BlockPrecision(s.BHigh, s.BHigh);
        var low = new BlockPrecision(s.BMedium, s.BLow);
        net.RunBlocks(x, h, w, 0, s.FirstRefEr, i => i == 0 ? (high, QuantizerSet.Standard) : (low, QuantizerSet.QueryLow), threads, null);
        for (int k = 0; k < net.RefEr.Length; k++)
        {
            int j = net.RefEr[k].Index;
            var fr = reference.RefErInputs[k];
            var match = new int[h / 3 * (w / 3)];
            ArgmaxCostVolume.Reference(RefErMatching.PooledCodes(x, h, w, ch, s.BLow), RefErMatching.PooledCodes(fr, reference.Height, reference.Width, ch, s.BLow), ch, match);
            var flow = RefErMatching.PixelFlow(x, h, w, fr, reference.Height, reference.Width, ch, s.BLow)!;
            mismatches += gpuTrace.Codes.TryGetValue($"refer.{j}.argmax", out var m) ? match.Zip(MemoryMarshal.Cast<byte, int>(m).ToArray()).Count(p => p.First != p.Second) : match.Length;
            mismatches += gpuTrace.Codes.TryGetValue($"refer.{j}.flow", out var f) ? flow.Zip(MemoryMarshal.Cast<byte, float>(f).ToArray()).Count(p => p.First != p.Second) : flow.Length;
            net.RefEr[k].Forward(x, h, w, fr, reference.Height, reference.Width, s.BHigh, s.BLow, threads, null);
        }
        return mismatches;
    }
}
