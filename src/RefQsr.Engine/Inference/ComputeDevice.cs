namespace RefQsr.Engine.Inference;

/// <summary>Where a plain SRResNet forward runs (docs/gpu.md). RefQSR models always run on
/// the CPU engine.</summary>
public enum ComputeDevice
{
    /// <summary>The CPU engine (SIMD kernels, threads).</summary>
    Cpu,
    /// <summary>The first CUDA GPU through ILGPU; an error when none is present.</summary>
    Cuda,
    /// <summary>CUDA when a CUDA GPU is present and the model can run there, else the CPU engine.</summary>
    Auto,
    /// <summary>The GPU code on ILGPU's CPU accelerator: slow, for debugging the GPU backend.</summary>
    IlgpuCpu,
}

/// <summary>The requested device is not present on this machine.</summary>
public sealed class DeviceUnavailableException(string message) : Exception(message);
