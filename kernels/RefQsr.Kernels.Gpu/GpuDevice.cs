using System.Diagnostics.CodeAnalysis;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;

namespace RefQsr.Kernels.Gpu;

/// <summary>One ILGPU context and accelerator with all kernels loaded. Opening one compiles
/// the kernels (seconds), so callers keep it: <see cref="Shared"/> gives one per backend for
/// the life of the process. ILGPU reads the kernels' IL and generates code at run time, so
/// none of this works in a NativeAOT build: callers check
/// <see cref="System.Runtime.CompilerServices.RuntimeFeature.IsDynamicCodeSupported"/> first.</summary>
public sealed class GpuDevice : IDisposable
{
    internal const string NeedsJit = "ILGPU compiles the kernels from their IL at run time, which a NativeAOT build cannot do";

    public GpuBackend Backend { get; }
    public DeviceKernels Kernels { get; }
    public Accelerator Accelerator => Kernels.Accelerator;
    /// <summary>The device's name as the driver reports it.</summary>
    public string Name => Accelerator.Name;
    readonly Context context;

    GpuDevice(GpuBackend backend, Context context, Accelerator accelerator)
    {
        Backend = backend;
        this.context = context;
        try { Kernels = DeviceKernels.Load(accelerator); }
        catch
        {
            accelerator.Dispose();
            context.Dispose();
            throw;
        }
    }

    /// <summary>ILGPU's CPU accelerator runs every thread of a group as an OS thread that
    /// meets the others at each barrier. Its default (16 threads a group) slowed to a crawl
    /// when other processes kept the cores busy (two tests on a 2-core machine beside two
    /// trainings ran past 4 minutes instead of seconds); 2 warps of 2 threads keep a group to
    /// 4 threads, and the tiled kernels then take 2x2 tiles.</summary>
    static CPUDevice SimulatedCpuDevice => new(numThreadsPerWarp: 2, numWarpsPerMultiprocessor: 2, numMultiprocessors: 1);

    /// <summary>Opens a new device; throws <see cref="GpuUnavailableException"/> when
    /// <paramref name="backend"/> is CUDA and no CUDA device is present.</summary>
    [RequiresDynamicCode(NeedsJit)]
    public static GpuDevice Open(GpuBackend backend)
    {
        if (backend == GpuBackend.IlgpuCpu)
        {
            var ctx = Context.Create(b => b.CPU(SimulatedCpuDevice).Optimize(OptimizationLevel.O1));
            return new GpuDevice(backend, ctx, ctx.CreateCPUAccelerator(0));
        }
        var cuda = Context.Create(b => b.Cuda().Optimize(OptimizationLevel.O1));
        try
        {
            var devices = cuda.GetCudaDevices();
            if (devices.Count == 0) throw new GpuUnavailableException("no CUDA device found (no NVIDIA driver, or no GPU visible to it)");
            return new GpuDevice(backend, cuda, devices[0].CreateAccelerator(cuda));
        }
        catch
        {
            cuda.Dispose();
            throw;
        }
    }

    static readonly Lazy<bool> cudaPresent = new(() =>
    {
        try
        {
            using var ctx = Context.Create(b => b.Cuda());
            return ctx.GetCudaDevices().Count > 0;
        }
        catch (Exception)
        {
            // no driver library, a driver too old for ILGPU, or a driver error: no usable CUDA
            return false;
        }
    });

    /// <summary>Whether a CUDA device is present (checked once per process).</summary>
    public static bool CudaAvailable { [RequiresDynamicCode(NeedsJit)] get => cudaPresent.Value; }

    static readonly Dictionary<GpuBackend, GpuDevice> shared = [];

    /// <summary>The process-wide device of this backend, opened on first use and kept (its
    /// kernels stay compiled); never dispose it.</summary>
    [RequiresDynamicCode(NeedsJit)]
    public static GpuDevice Shared(GpuBackend backend)
    {
        lock (shared)
        {
            if (!shared.TryGetValue(backend, out var d)) shared[backend] = d = Open(backend);
            return d;
        }
    }

    public void Dispose()
    {
        Accelerator.Dispose();
        context.Dispose();
    }
}

/// <summary>The requested accelerator is not present on this machine.</summary>
public sealed class GpuUnavailableException(string message) : Exception(message);
