using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using RefQsr.Engine.Inference;
using RefQsr.Engine.Networks;
using RefQsr.Kernels.Gpu;

namespace RefQsr.Engine.Gpu;

/// <summary>Resolves a <see cref="ComputeDevice"/> to an ILGPU backend (null: the CPU engine)
/// and keeps one uploaded <see cref="GpuSrResNet"/> (and <see cref="DeviceClustBlock"/>) per
/// network and backend for the life of the network, so a second image costs no kernel
/// compilation or weight upload. Callers test <see cref="RuntimeFeature.IsDynamicCodeSupported"/>
/// before <see cref="For(SrResNet, GpuBackend)"/>: a NativeAOT build cannot run ILGPU, and
/// with that test its compiler leaves the whole GPU backend out.</summary>
internal static class GpuBackends
{
    /// <summary>The backend for an SRResNet forward (plain, or RefQSR's reference and query
    /// paths), or null for the CPU engine (always, in a NativeAOT build).</summary>
    public static GpuBackend? Resolve(ComputeDevice device, SrResNet network) => device switch
    {
        ComputeDevice.Cpu => null,
        ComputeDevice.Cuda or ComputeDevice.IlgpuCpu => Checked(device, network),
        ComputeDevice.Auto => ComputeDevices.CudaAvailable && network.Config.Channels % 4 == 0 ? GpuBackend.Cuda : null,
        _ => throw new ArgumentException($"unknown device {device}"),
    };

    static GpuBackend Checked(ComputeDevice device, SrResNet network)
    {
        ComputeDevices.Check(device, network.Config);
        return device == ComputeDevice.Cuda ? GpuBackend.Cuda : GpuBackend.IlgpuCpu;
    }

    static readonly ConditionalWeakTable<SrResNet, Dictionary<GpuBackend, GpuSrResNet>> uploaded = [];
    static readonly ConditionalWeakTable<ClustBlock, Dictionary<GpuBackend, DeviceClustBlock>> uploadedClust = [];

    [RequiresDynamicCode(GpuDevice.NeedsJit)]
    public static GpuSrResNet For(SrResNet network, GpuBackend backend)
        => Uploaded(uploaded, network, backend, d => new GpuSrResNet(network, d));

    [RequiresDynamicCode(GpuDevice.NeedsJit)]
    public static DeviceClustBlock For(ClustBlock clustBlock, GpuBackend backend)
        => Uploaded(uploadedClust, clustBlock, backend, d => new DeviceClustBlock(clustBlock, d));

    [RequiresDynamicCode(GpuDevice.NeedsJit)]
    static TDevice Uploaded<THost, TDevice>(ConditionalWeakTable<THost, Dictionary<GpuBackend, TDevice>> table, THost host, GpuBackend backend, Func<GpuDevice, TDevice> upload)
        where THost : class
    {
        var byBackend = table.GetOrCreateValue(host);
        lock (byBackend)
        {
            if (!byBackend.TryGetValue(backend, out var g))
            {
                GpuDevice device;
                try { device = GpuDevice.Shared(backend); }
                catch (GpuUnavailableException e) { throw new DeviceUnavailableException(e.Message); }
                byBackend[backend] = g = upload(device);
            }
            return g;
        }
    }
}
