using System.Runtime.CompilerServices;

namespace RefQsr.Engine.Inference;

/// <summary>Where an SRResNet forward runs (docs/gpu.md): plain models and RefQSR's reference
/// and query paths; the RefQSR ClustBlock and the patch pairing always run on the host.</summary>
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
    /// <summary>Whether a CUDA GPU is present (checked once per process) and this build can
    /// use it: false in a NativeAOT build (<see cref="GpuBackendSupported"/>).</summary>
    public static bool CudaAvailable => RuntimeFeature.IsDynamicCodeSupported && global::RefQsr.Kernels.Gpu.GpuDevice.CudaAvailable;

    /// <summary>Whether the GPU backend can run in this process at all. ILGPU compiles the
    /// kernels from their IL at run time; a NativeAOT build has neither the IL nor a JIT, so
    /// there every model runs on the CPU engine, and the GPU devices are refused.</summary>
    public static bool GpuBackendSupported => RuntimeFeature.IsDynamicCodeSupported;

    /// <summary>Throws the error a run would give, before any work: <see cref="DeviceUnavailableException"/>
    /// for CUDA without a CUDA GPU or for a GPU device in a NativeAOT build, <see cref="NotSupportedException"/> for a model the GPU
    /// backend cannot run (channels not a multiple of 4).</summary>
    public static void Check(ComputeDevice device, Weights.ModelConfig config)
    {
        if (device is ComputeDevice.Cuda or ComputeDevice.IlgpuCpu && !RuntimeFeature.IsDynamicCodeSupported)
            throw new DeviceUnavailableException($"--device {Name(device)}: this is a NativeAOT build, which cannot run the GPU backend (ILGPU compiles its kernels at run time); use the JIT build for the GPU, or --device cpu");
        if (device is ComputeDevice.Cuda or ComputeDevice.IlgpuCpu && config.Channels % 4 != 0)
            throw new NotSupportedException($"the GPU backend needs a channel count that is a multiple of 4, the model has {config.Channels}; use --device cpu");
        if (device == ComputeDevice.Cuda && !CudaAvailable)
            throw new DeviceUnavailableException("--device cuda: no CUDA device found (no NVIDIA driver, or no GPU visible to it); use --device cpu or auto");
    }

    /// <summary>The command-line spelling: cpu, cuda, auto, ilgpu-cpu.</summary>
    public static string Name(ComputeDevice device) => device == ComputeDevice.IlgpuCpu ? "ilgpu-cpu" : device.ToString().ToLowerInvariant();
}
