namespace RefQsr.Kernels.Gpu;

/// <summary>Which ILGPU accelerator runs the kernels.</summary>
public enum GpuBackend
{
    /// <summary>The first CUDA device (kernels use inline PTX: dp4a, fma.rn, cvt.rni).</summary>
    Cuda,
    /// <summary>ILGPU's CPU accelerator: a slow correctness backend for tests and debugging.</summary>
    IlgpuCpu,
}
