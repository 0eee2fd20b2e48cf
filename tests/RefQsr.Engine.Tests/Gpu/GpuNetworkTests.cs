using System.Runtime.Intrinsics.X86;
using RefQsr.Engine.Gpu;
using RefQsr.Engine.Networks;
using RefQsr.Engine.Weights;
using RefQsr.Kernels;

namespace RefQsr.Engine.Tests.Gpu;

/// <summary>A whole SRResNet forward on the device against the CPU engine, on tiny random
/// models: the activation codes of every integer conv are identical, and so is the HR output
/// on an AVX-512/FMA CPU (the device sums each FP32 conv in the CPU kernel's order);
/// elsewhere the HR is within float tolerance.</summary>
[Collection(GpuCollection.Name)]
public sealed class GpuNetworkTests
{
    static bool CpuFmaOrder => Avx512F.IsSupported && Fma.IsSupported;
    /// <summary>The CPU model sums its FP32 convs directly, in the device's order (the default
    /// Winograd path rounds differently; NetworkFloatConvTests checks it against this one).</summary>
    const FloatConvWeights.Algorithm GpuOrder = FloatConvWeights.Algorithm.Direct;

    public static TheoryData<string, string> Cases()
    {
        var d = new TheoryData<string, string>();
        foreach (var acc in Accelerators.Names())
            foreach (var model in new[] { "ddtb8-gated-16ch", "pams4-16ch", "fp32-16ch", "ddtb4-gated-64ch" })
                d.Add(acc, model);
        return d;
    }

    static ModelConfig Config(string model) => model switch
    {
        "ddtb8-gated-16ch" => TestModels.Config(QuantizerKind.Ddtb, 8, 2, [1, 2]) with { Channels = 16 },
        "pams4-16ch" => TestModels.Config(QuantizerKind.Pams, 4, 2) with { Channels = 16 },
        "fp32-16ch" => TestModels.Config(QuantizerKind.None, 32, 2) with { Channels = 16 },
        "ddtb4-gated-64ch" => TestModels.Config(QuantizerKind.Ddtb, 4, 2, [0]),
        _ => throw new ArgumentException(model),
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void ForwardMatchesTheCpuEngine(string accelerator, string model)
    {
        var net = SrResNet.Load(TestModels.File(Config(model), seed: 7), GpuOrder);
        const int h = 6, w = 8;
        var lr = TestModels.Image(h, w);
        var cpuTrace = new ForwardTrace();
        var cpu = net.Forward(lr, h, w, 1, cpuTrace);
        using var gpuNet = new GpuSrResNet(net, Accelerators.Get(accelerator));
        var gpuTrace = new ForwardTrace();
        var gpu = gpuNet.Forward(lr, h, w, gpuTrace);

        Assert.Equal(cpuTrace.Codes.Keys.Order(), gpuTrace.Codes.Keys.Order());
        Assert.Equal(net.Config.IsQuantized ? 2 * net.Config.Blocks : 0, gpuTrace.Codes.Count);
        foreach (var (name, codes) in cpuTrace.Codes)
            Assert.True(codes.AsSpan().SequenceEqual(gpuTrace.Codes[name]), $"activation codes of {name} differ");
        Assert.Equal(cpu.Length, gpu.Length);
        if (CpuFmaOrder) Assert.Equal(cpu, gpu);
        else
            for (int i = 0; i < cpu.Length; i++)
                Assert.True(Math.Abs(cpu[i] - gpu[i]) <= 1e-3f * (1 + Math.Abs(cpu[i])), $"HR value {i}: {cpu[i]} vs {gpu[i]}");
        // a second forward reuses the workspace and gives the same result
        Assert.Equal(gpu, gpuNet.Forward(lr, h, w));
    }

    public static TheoryData<string, string> BatchCases()
    {
        var d = new TheoryData<string, string>();
        foreach (var acc in Accelerators.Names())
            foreach (var model in new[] { "ddtb8-gated-16ch", "pams4-16ch" })
                d.Add(acc, model);
        return d;
    }

    /// <summary>A batch runs each image as if alone: zero padding per image, and a gated
    /// quantizer's range from each image's own channel means. A small byte budget makes the
    /// batch of 3 run as 2 + 1.</summary>
    [Theory]
    [MemberData(nameof(BatchCases))]
    public void BatchedForwardGivesEachImageItsOwnOutput(string accelerator, string model)
    {
        var net = SrResNet.Load(TestModels.File(Config(model), seed: 7), GpuOrder);
        const int h = 6, w = 8, n = 3;
        var images = Enumerable.Range(0, n).Select(i => TestModels.Image(h, w, seed: 20 + i)).ToArray();
        using var gpuNet = new GpuSrResNet(net, Accelerators.Get(accelerator));
        var alone = images.Select(lr => gpuNet.Forward(lr, h, w)).ToArray();
        gpuNet.MaxBatchBytes = 2 * Workspace.BytesPerSample(h, w, net.Config.Channels);
        Assert.Equal(2, gpuNet.MaxBatch(h, w));
        var batched = gpuNet.ForwardBatch(images.SelectMany(x => x).ToArray(), n, h, w);
        Assert.Equal(n, batched.Length);
        for (int i = 0; i < n; i++) Assert.True(alone[i].AsSpan().SequenceEqual(batched[i]), $"image {i} differs in the batch");
        // the images differ, so equal outputs would mean the batch mixed them up
        Assert.False(alone[0].AsSpan().SequenceEqual(alone[1]));
        gpuNet.MaxBatchBytes = long.MaxValue;
        var oneBatch = gpuNet.ForwardBatch(images.SelectMany(x => x).ToArray(), n, h, w);
        for (int i = 0; i < n; i++) Assert.True(alone[i].AsSpan().SequenceEqual(oneBatch[i]), $"image {i} differs in one batch of {n}");
    }

    [Fact]
    public void BadBatchesAreRefusedWithClearErrors()
    {
        var net = SrResNet.Load(TestModels.File(Config("pams4-16ch")), GpuOrder);
        using var gpuNet = new GpuSrResNet(net, Accelerators.Get(Accelerators.Cpu));
        var lr = TestModels.Image(6, 8);
        Assert.Contains("expected 2 x 6x8x3", Assert.Throws<ArgumentException>(() => gpuNet.ForwardBatch(lr, 2, 6, 8)).Message);
        Assert.Contains("at least one image", Assert.Throws<ArgumentException>(() => gpuNet.ForwardBatch([], 0, 6, 8)).Message);
        Assert.Contains("trace a batch of one", Assert.Throws<ArgumentException>(() => gpuNet.ForwardBatch([.. lr, .. lr], 2, 6, 8, new ForwardTrace())).Message);
    }

    [Fact]
    public void ChannelsNotAMultipleOf4AreRefusedWithAClearError()
    {
        var net = SrResNet.Load(TestModels.File(TestModels.Config(QuantizerKind.Pams, 4, 1) with { Channels = 6 }), GpuOrder);
        var e = Assert.Throws<NotSupportedException>(() => new GpuSrResNet(net, Accelerators.Get(Accelerators.Cpu)));
        Assert.Contains("multiple of 4", e.Message);
    }
}
