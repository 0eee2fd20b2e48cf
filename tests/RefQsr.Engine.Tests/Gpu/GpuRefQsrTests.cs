using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;
using ILGPU.Runtime;
using RefQsr.Engine.Gpu;
using RefQsr.Engine.Imaging;
using RefQsr.Engine.Inference;
using RefQsr.Engine.Networks;
using RefQsr.Engine.RefQsr;
using RefQsr.Engine.Weights;
using RefQsr.Kernels;

namespace RefQsr.Engine.Tests.Gpu;

/// <summary>RefQSR on the device against the CPU engine, on tiny random RefQSR models (4
/// blocks: block 0, one low block, then two RefER blocks; 16 channels): the reference path's codes and kept features, the query path's codes
/// (body.0.q, body.{i}.qlow, refer.{j}.q1/q2), the cost-volume argmax and the pixel flow of
/// every RefER block are identical. HR: identical on an AVX-512/FMA CPU (the device sums each
/// FP32 conv in the CPU kernel's order and every other step rounds as the CPU does), else
/// within 1e-3 relative, the float tolerance of an FP32 conv summed in another order.</summary>
[Collection(GpuCollection.Name)]
public sealed class GpuRefQsrTests
{
    static bool CpuFmaOrder => Avx512F.IsSupported && Fma.IsSupported;

    public static TheoryData<string, string> Cases()
    {
        var d = new TheoryData<string, string>();
        foreach (var acc in Accelerators.Names())
            foreach (var model in new[] { "ddtb-8-4-gated", "pams-4-3" })
                d.Add(acc, model);
        return d;
    }

    // gated 0 and 3: block 0's conv1 and block 1's conv2 (a low block: gated on the reference path only)
    static SrResNet Model(string model) => SrResNet.Load(TestModels.File(model switch
    {
        "ddtb-8-4-gated" => TestModels.RefQsrConfig(QuantizerKind.Ddtb, 8, 4, gated: [0, 3]) with { Channels = 16 },
        "pams-4-3" => TestModels.RefQsrConfig(QuantizerKind.Pams, 4, 3) with { Channels = 16 },
        _ => throw new ArgumentException(model),
    }, seed: 5), FloatConvWeights.Algorithm.Direct);   // FP32 convs summed in the device's order

    static void AssertHrMatches(float[] cpu, float[] gpu, string what)
    {
        Assert.Equal(cpu.Length, gpu.Length);
        if (CpuFmaOrder) Assert.True(cpu.AsSpan().SequenceEqual(gpu), $"{what}: HR differs");
        else
            for (int i = 0; i < cpu.Length; i++)
                Assert.True(Math.Abs(cpu[i] - gpu[i]) <= 1e-3f * (1 + Math.Abs(cpu[i])), $"{what} HR value {i}: {cpu[i]} vs {gpu[i]}");
    }

    /// <summary>The residual stream starts at the FP32 head conv, which the CPU sums in the
    /// device's order only on its AVX-512 FMA path; elsewhere the float features agree to
    /// rounding (their activation codes are still compared exactly).</summary>
    static void AssertFeaturesMatch(float[] cpu, float[] gpu, string what)
    {
        Assert.Equal(cpu.Length, gpu.Length);
        if (CpuFmaOrder) Assert.True(cpu.AsSpan().SequenceEqual(gpu), $"{what} differs");
        else
            for (int i = 0; i < cpu.Length; i++)
                Assert.True(Math.Abs(cpu[i] - gpu[i]) <= 1e-4f * (1 + Math.Abs(cpu[i])), $"{what} value {i}: {cpu[i]} vs {gpu[i]}");
    }

    static void AssertCodesMatch(ForwardTrace cpu, ForwardTrace gpu)
    {
        foreach (var (name, codes) in cpu.Codes)
        {
            Assert.True(gpu.Codes.ContainsKey(name), $"the device did not trace {name}");
            Assert.True(codes.AsSpan().SequenceEqual(gpu.Codes[name]), $"activation codes of {name} differ");
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void ReferenceAndQueryPathsMatchTheCpuEngine(string accelerator, string model)
    {
        var net = Model(model);
        var s = net.Config.RefQsr!;
        int ch = net.Config.Channels;
        // a reference and a query of other sizes (stretched border patches); pooled 4x3 and 3x3
        const int rh = 12, rw = 10, qh = 9, qw = 11;
        var lrRef = TestModels.Image(rh, rw, seed: 4);
        var lrQuery = TestModels.Image(qh, qw, seed: 6);
        using var gpu = new GpuSrResNet(net, Accelerators.Get(accelerator));

        var cpuRefTrace = new ForwardTrace();
        var (cpuRefHr, cpuFeatures) = net.ForwardReference(lrRef, rh, rw, 1, cpuRefTrace);
        var gpuRefTrace = new ForwardTrace();
        var (gpuRefHr, gpuFeatures) = gpu.ForwardReference(lrRef, rh, rw, keepFeatures: true, gpuRefTrace);
        using var kept = gpuFeatures!;
        Assert.Equal(2 * net.Config.Blocks, cpuRefTrace.Codes.Count);
        Assert.Equal(cpuRefTrace.Codes.Keys.Order(), gpuRefTrace.Codes.Keys.Order());
        AssertCodesMatch(cpuRefTrace, gpuRefTrace);
        AssertHrMatches(cpuRefHr, gpuRefHr, "reference");
        for (int k = 0; k < s.RefErBlocks.Count; k++)
        {
            AssertFeaturesMatch(cpuFeatures.RefErInputs[k], kept.Inputs[k].GetAsArray1D(), $"kept reference input {k}");
            var codes = RefErMatching.PooledCodes(cpuFeatures.RefErInputs[k], rh, rw, ch, s.BLow);
            Assert.Equal(codes, MemoryMarshal.Cast<int, sbyte>(kept.MatchCodes[k].GetAsArray1D().AsSpan()).ToArray());
        }

        var cpuTrace = new ForwardTrace();
        var cpuHr = net.ForwardQuery(lrQuery, qh, qw, cpuFeatures, 1, cpuTrace);
        var gpuTrace = new ForwardTrace();
        var gpuHr = gpu.ForwardQuery(lrQuery, qh, qw, kept, gpuTrace);
        // block 0 (q), the low blocks (qlow), two RefER blocks (q1, q2)
        Assert.Equal(2 + 2 * (s.FirstRefEr - 1) + 2 * s.RefErBlocks.Count, cpuTrace.Codes.Count);
        Assert.Contains("refer.2.q1", cpuTrace.Codes.Keys);
        Assert.Contains("body.1.qlow2", cpuTrace.Codes.Keys);
        AssertCodesMatch(cpuTrace, gpuTrace);
        AssertMatchesAndFlows(net, lrQuery, qh, qw, cpuFeatures, gpuTrace);
        AssertHrMatches(cpuHr, gpuHr, "query");
        // the workspace and the kept features are reused as they are
        Assert.Equal(gpuHr, gpu.ForwardQuery(lrQuery, qh, qw, kept));
    }

    /// <summary>The CPU query path step by step: each RefER block's argmax and pixel flow
    /// against what the device traced.</summary>
    static void AssertMatchesAndFlows(SrResNet net, float[] lr, int h, int w, SrResNet.ReferenceFeatures reference, ForwardTrace gpuTrace)
    {
        var s = net.Config.RefQsr!;
        int ch = net.Config.Channels;
        var x = net.Head(lr, h, w, 1);
        var high = new BlockPrecision(s.BHigh, s.BHigh);
        var low = new BlockPrecision(s.BMedium, s.BLow);
        net.RunBlocks(x, h, w, 0, s.FirstRefEr, i => i == 0 ? (high, QuantizerSet.Standard) : (low, QuantizerSet.QueryLow), 1, null);
        var distinctMatches = new HashSet<int>();
        for (int k = 0; k < net.RefEr.Length; k++)
        {
            int j = net.RefEr[k].Index;
            var fr = reference.RefErInputs[k];
            var match = new int[h / 3 * (w / 3)];
            ArgmaxCostVolume.Reference(RefErMatching.PooledCodes(x, h, w, ch, s.BLow), RefErMatching.PooledCodes(fr, reference.Height, reference.Width, ch, s.BLow), ch, match);
            Assert.Equal(match, MemoryMarshal.Cast<byte, int>(gpuTrace.Codes[$"refer.{j}.argmax"]).ToArray());
            var flow = RefErMatching.PixelFlow(x, h, w, fr, reference.Height, reference.Width, ch, s.BLow)!;
            Assert.Equal(flow, MemoryMarshal.Cast<byte, float>(gpuTrace.Codes[$"refer.{j}.flow"]).ToArray());
            distinctMatches.UnionWith(match);
            net.RefEr[k].Forward(x, h, w, fr, reference.Height, reference.Width, s.BHigh, s.BLow, 1, null);
        }
        // the matches are not all one position: the flow and the warp are exercised
        Assert.True(distinctMatches.Count > 1, "every query position matched the same reference position");
    }

    [Theory]
    [MemberData(nameof(Accelerators.Available), MemberType = typeof(Accelerators))]
    public void QueriesTooSmallForAPooledGridPassRefErThrough(string accelerator)
    {
        var net = Model("ddtb-8-4-gated");
        using var gpu = new GpuSrResNet(net, Accelerators.Get(accelerator));
        const int rh = 8, rw = 7, qh = 2, qw = 9;
        var lrRef = TestModels.Image(rh, rw);
        var lrQuery = TestModels.Image(qh, qw, seed: 8);
        var (_, cpuFeatures) = net.ForwardReference(lrRef, rh, rw, 1);
        var (_, gpuFeatures) = gpu.ForwardReference(lrRef, rh, rw, keepFeatures: true);
        using var kept = gpuFeatures!;
        var cpuTrace = new ForwardTrace();
        var cpuHr = net.ForwardQuery(lrQuery, qh, qw, cpuFeatures, 1, cpuTrace);
        var gpuTrace = new ForwardTrace();
        var gpuHr = gpu.ForwardQuery(lrQuery, qh, qw, kept, gpuTrace);
        Assert.DoesNotContain(cpuTrace.Codes.Keys, n => n.StartsWith("refer.", StringComparison.Ordinal));
        Assert.Equal(cpuTrace.Codes.Keys.Order(), gpuTrace.Codes.Keys.Order());
        AssertCodesMatch(cpuTrace, gpuTrace);
        AssertHrMatches(cpuHr, gpuHr, "query without a pooled grid");
    }

    /// <summary>Batches of references and of queries give each patch what it gets alone: two
    /// references of one size (one keeping no features), and three queries of one size against
    /// three different references, one of them (2x9) too small for a pooled grid, so that
    /// query passes RefER through inside a batch whose other queries do not.</summary>
    [Theory]
    [MemberData(nameof(Accelerators.Available), MemberType = typeof(Accelerators))]
    public void BatchesMatchPatchesRunOneByOne(string accelerator)
    {
        var net = Model("ddtb-8-4-gated");
        using var gpu = new GpuSrResNet(net, Accelerators.Get(accelerator));
        const int rh = 12, rw = 10, qh = 9, qw = 11, sh = 2, sw = 9;
        var refs = new[] { TestModels.Image(rh, rw, seed: 31), TestModels.Image(rh, rw, seed: 32) };
        var small = TestModels.Image(sh, sw, seed: 33);
        var queries = Enumerable.Range(0, 3).Select(i => TestModels.Image(qh, qw, seed: 40 + i)).ToArray();

        var alone = refs.Select(r => gpu.ForwardReference(r, rh, rw, keepFeatures: true)).ToArray();
        var (smallHr, smallKept) = gpu.ForwardReference(small, sh, sw, keepFeatures: true);
        using var smallFeatures = smallKept!;
        Assert.False(smallFeatures.HasPooledGrid);
        try
        {
            var (batchHr, batchKept) = gpu.ForwardReferenceBatch(refs.SelectMany(x => x).ToArray(), 2, rh, rw, [true, false]);
            Assert.Null(batchKept[1]);
            using var kept0 = batchKept[0]!;
            for (int i = 0; i < 2; i++) Assert.True(alone[i].Hr.AsSpan().SequenceEqual(batchHr[i]), $"reference {i} differs in the batch");
            for (int k = 0; k < kept0.Inputs.Count; k++)
            {
                Assert.Equal(alone[0].Features!.Inputs[k].GetAsArray1D(), kept0.Inputs[k].GetAsArray1D());
                Assert.Equal(alone[0].Features!.MatchCodes[k].GetAsArray1D(), kept0.MatchCodes[k].GetAsArray1D());
            }

            var against = new[] { alone[0].Features!, alone[1].Features!, smallFeatures };
            var queryAlone = queries.Select((q, i) => gpu.ForwardQuery(q, qh, qw, against[i])).ToArray();
            var queryBatch = gpu.ForwardQueryBatch(queries.SelectMany(x => x).ToArray(), 3, qh, qw, against);
            for (int i = 0; i < 3; i++) Assert.True(queryAlone[i].AsSpan().SequenceEqual(queryBatch[i]), $"query {i} differs in the batch");
            // the third query really passed RefER through: the CPU engine agrees
            var (_, cpuSmall) = net.ForwardReference(small, sh, sw, 1);
            AssertHrMatches(net.ForwardQuery(queries[2], qh, qw, cpuSmall, 1), queryBatch[2], "query against a reference without a pooled grid");
            Assert.Equal(sh * sw * 48, smallHr.Length);
        }
        finally
        {
            foreach (var a in alone) a.Features?.Dispose();
        }
    }

    static RefQsrUpscaler Upscaler()
        => new(Model("ddtb-8-4-gated"), ClustBlock.Load(TestModels.File(TestModels.ClustBlockConfig())));

    [Theory]
    [MemberData(nameof(Accelerators.Available), MemberType = typeof(Accelerators))]
    public void UpscalerOnTheDeviceWritesTheCpuEnginesImage(string accelerator)
    {
        var u = Upscaler();
        var f = TestModels.Image(31, 40);
        var lr = new RgbImage(40, 31, f.Select(v => (byte)v).ToArray());
        // 16-px patches: a 3x2 grid with stretched border patches; refs 0, 1, 5, queries 2→5, 3→1, 4→5
        var options = new UpscaleOptions { PatchSize = 16 };
        var pairing = new ClusterAssignment([0, 0, 5, 1, 5, 5]);
        var device = accelerator == Accelerators.Cuda ? ComputeDevice.Cuda : ComputeDevice.IlgpuCpu;
        var cpu = u.Run(lr, options, pairing);
        var gpu = u.Run(lr, options with { Device = device }, pairing);
        Assert.StartsWith(accelerator, gpu.Device);
        Assert.Equal("cpu", cpu.Device);
        Assert.Equal(cpu.GigaBitOps, gpu.GigaBitOps);
        var a = cpu.Image.Pixels;
        var b = gpu.Image.Pixels;
        if (CpuFmaOrder) Assert.Equal(a, b);
        else Assert.True(a.Zip(b).All(p => Math.Abs(p.First - p.Second) <= 1), "HR bytes differ by more than 1");
        // the ClustBlock's own pairing (on the host either way) gives the same references
        var gpuClustered = u.Run(lr, options with { Device = device });
        Assert.Equal(u.Run(lr, options).Clusters!.ReferenceOf, gpuClustered.Clusters!.ReferenceOf);
    }
}
