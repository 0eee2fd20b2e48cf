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

/// <summary>What this machine offers, and whether a model can run on a requested device.</summary>
public static class ComputeDevices
{
    /// <summary>Whether a CUDA GPU is present (checked once per process).</summary>
    public static bool CudaAvailable => global::RefQsr.Kernels.Gpu.GpuDevice.CudaAvailable;

    /// <summary>Throws the error a run would give, before any work: <see cref="DeviceUnavailableException"/>
    /// for CUDA without a CUDA GPU, <see cref="NotSupportedException"/> for a RefQSR model on a
    /// GPU backend.</summary>
    public static void Check(ComputeDevice device, Weights.ModelConfig config)
    {
        if (config.RefQsr is not null && device is not (ComputeDevice.Cpu or ComputeDevice.Auto))
            throw new NotSupportedException($"RefQSR models run on the CPU only (the RefQSR schedule is not on the GPU backend yet); use --device cpu or auto, not {Name(device)}");
        if (device == ComputeDevice.Cuda && !CudaAvailable)
            throw new DeviceUnavailableException("--device cuda: no CUDA device found (no NVIDIA driver, or no GPU visible to it); use --device cpu or auto");
    }

    /// <summary>The command-line spelling: cpu, cuda, auto, ilgpu-cpu.</summary>
    public static string Name(ComputeDevice device) => device == ComputeDevice.IlgpuCpu ? "ilgpu-cpu" : device.ToString().ToLowerInvariant();
}
