using System.Runtime.Intrinsics.X86;
using System.Text.Json;
using RefQsr.Cli;
using RefQsr.Engine.Imaging;
using RefQsr.Engine.Tests.Gpu;
using RefQsr.Engine.Weights;
using RefQsr.Kernels.Gpu;

namespace RefQsr.Engine.Tests.Cli;

/// <summary>--device on the command line: the choice of backend, one-line errors when CUDA is
/// asked for and absent or the model's channels do not fit the GPU kernels, and the same
/// image from the GPU code (on ILGPU's CPU accelerator) as from the CPU engine, for plain
/// and RefQSR models.</summary>
[Collection(GpuCollection.Name)]
public sealed class DeviceCliTests : CliTestBase
{
    [Fact]
    public void CudaWithoutADeviceIsAOneLineError()
    {
        if (GpuDevice.CudaAvailable) return;   // only meaningful on a machine without CUDA
        string model = Write("m.safetensors", TestModels.Config(QuantizerKind.Ddtb, 8, 1) with { Channels = 16 });
        var (code, _, err) = Run("upscale", Png(8, 8), Path.Combine(Dir, "o.png"), "--model", model, "--device", "cuda");
        Assert.Equal(1, code);
        Assert.Equal("refqsr: --device cuda: no CUDA device found (no NVIDIA driver, or no GPU visible to it); use --device cpu or auto", err.Trim());
    }

    [Fact]
    public void UnknownDeviceIsAUsageError()
    {
        var (code, _, err) = Run("upscale", Png(8, 8), Path.Combine(Dir, "o.png"), "--device", "tpu");
        Assert.Equal(2, code);
        Assert.Contains("--device must be cpu, cuda, auto or ilgpu-cpu, got 'tpu'", err);
    }

    [Fact]
    public void GpuCodeOnTheCpuAcceleratorWritesTheSameImageAsTheCpuEngine()
    {
        string model = Write("m.safetensors", TestModels.Config(QuantizerKind.Ddtb, 8, 2, [1]) with { Channels = 16 });
        string input = Png(13, 9), cpuOut = Path.Combine(Dir, "cpu.png"), gpuOut = Path.Combine(Dir, "gpu.png");
        var (c1, _, e1) = Run("upscale", input, cpuOut, "--model", model, "--full-image", "--device", "cpu");
        Assert.True(c1 == 0, e1);
        var (c2, json, e2) = Run("upscale", input, gpuOut, "--model", model, "--full-image", "--device", "ilgpu-cpu", "--json");
        Assert.True(c2 == 0, e2);
        using var doc = JsonDocument.Parse(json);
        Assert.StartsWith("ilgpu-cpu", doc.RootElement.GetProperty("device").GetString());
        var a = ImageFiles.Load(cpuOut, long.MaxValue).Pixels;
        var b = ImageFiles.Load(gpuOut, long.MaxValue).Pixels;
        if (Avx512F.IsSupported && Fma.IsSupported) Assert.Equal(a, b);
        else Assert.True(a.Zip(b).All(p => Math.Abs(p.First - p.Second) <= 1), "HR bytes differ by more than 1");
    }

    [Fact]
    public void AutoOnAMachineWithoutCudaRunsTheCpuEngine()
    {
        if (GpuDevice.CudaAvailable) return;
        string model = Write("m.safetensors", TestModels.Config(QuantizerKind.Pams, 4, 1) with { Channels = 16 });
        var (code, json, err) = Run("upscale", Png(8, 8), Path.Combine(Dir, "o.png"), "--model", model, "--device", "auto", "--json");
        Assert.True(code == 0, err);
        using var doc = JsonDocument.Parse(json);
        Assert.Equal("cpu", doc.RootElement.GetProperty("device").GetString());
    }

    [Fact]
    public void RefQsrOnTheCpuAcceleratorWritesTheSameImageAsTheCpuEngine()
    {
        string model = Write("rq.safetensors", TestModels.RefQsrConfig() with { Channels = 16 });
        string cb = Write("cb.safetensors", TestModels.ClustBlockConfig());
        // 12-px patches on 24x20: a 3x2 grid, border patches stretched
        string input = Png(24, 20), cpuOut = Path.Combine(Dir, "cpu.png"), gpuOut = Path.Combine(Dir, "gpu.png");
        var (c1, cpuJson, e1) = Run("upscale", input, cpuOut, "--model", model, "--clustblock", cb, "--patch", "12", "--device", "cpu", "--json");
        Assert.True(c1 == 0, e1);
        var (c2, gpuJson, e2) = Run("upscale", input, gpuOut, "--model", model, "--clustblock", cb, "--patch", "12", "--device", "ilgpu-cpu", "--json");
        Assert.True(c2 == 0, e2);
        using var cpuDoc = JsonDocument.Parse(cpuJson);
        using var gpuDoc = JsonDocument.Parse(gpuJson);
        Assert.StartsWith("ilgpu-cpu", gpuDoc.RootElement.GetProperty("device").GetString());
        Assert.Equal(cpuDoc.RootElement.GetProperty("bitops_g").GetDouble(), gpuDoc.RootElement.GetProperty("bitops_g").GetDouble());
        var a = ImageFiles.Load(cpuOut, long.MaxValue).Pixels;
        var b = ImageFiles.Load(gpuOut, long.MaxValue).Pixels;
        if (Avx512F.IsSupported && Fma.IsSupported) Assert.Equal(a, b);
        else Assert.True(a.Zip(b).All(p => Math.Abs(p.First - p.Second) <= 1), "HR bytes differ by more than 1");
    }

    [Fact]
    public void ChannelsTheGpuBackendCannotPackAreAOneLineError()
    {
        string model = Write("m6.safetensors", TestModels.Config(QuantizerKind.Pams, 4, 1) with { Channels = 6 });
        var (code, _, err) = Run("upscale", Png(8, 8), Path.Combine(Dir, "o.png"), "--model", model, "--device", "ilgpu-cpu");
        Assert.Equal(1, code);
        Assert.Contains("multiple of 4", err);
        Assert.Single(err.Trim().Split('\n'));
    }
}
