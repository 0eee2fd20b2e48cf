using RefQsr.Kernels.Gpu;

namespace RefQsr.Engine.Tests.Gpu;

/// <summary>The accelerators the GPU backend tests run on (ILGPU-tests style: the same tests
/// against every available one): ILGPU's CPU accelerator always, CUDA when a device is present.</summary>
public static class Accelerators
{
    public const string Cpu = "ilgpu-cpu", Cuda = "cuda";

    public static IEnumerable<string> Names() => GpuDevice.CudaAvailable ? [Cpu, Cuda] : [Cpu];

    public static TheoryData<string> Available() => new(Names());

    public static GpuDevice Get(string name) => GpuDevice.Shared(name == Cuda ? GpuBackend.Cuda : GpuBackend.IlgpuCpu);
}

/// <summary>GPU tests share one device per backend and run one at a time.</summary>
[CollectionDefinition(Name)]
public sealed class GpuCollection
{
    public const string Name = "gpu";
}
