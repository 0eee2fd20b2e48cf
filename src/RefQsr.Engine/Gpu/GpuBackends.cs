using System.Runtime.CompilerServices;
using RefQsr.Engine.Inference;
using RefQsr.Engine.Networks;
using RefQsr.Kernels.Gpu;

namespace RefQsr.Engine.Gpu;

/// <summary>Resolves a <see cref="ComputeDevice"/> to an ILGPU backend (null: the CPU engine)
/// and keeps one uploaded <see cref="GpuSrResNet"/> per network and backend for the life of
/// the network, so a second image costs no kernel compilation or weight upload.</summary>
internal static class GpuBackends
{
    /// <summary>The backend for an SRResNet forward (plain, or RefQSR's reference and query
    /// paths), or null for the CPU engine.</summary>
    public static GpuBackend? Resolve(ComputeDevice device, SrResNet network) => device switch
    {
        ComputeDevice.Cpu => null,
        ComputeDevice.Cuda or ComputeDevice.IlgpuCpu => Checked(device, network),
        ComputeDevice.Auto => GpuDevice.CudaAvailable && network.Config.Channels % 4 == 0 ? GpuBackend.Cuda : null,
        _ => throw new ArgumentException($"unknown device {device}"),
    };

    static GpuBackend Checked(ComputeDevice device, SrResNet network)
    {
        ComputeDevices.Check(device, network.Config);
        return device == ComputeDevice.Cuda ? GpuBackend.Cuda : GpuBackend.IlgpuCpu;
    }

    static readonly ConditionalWeakTable<SrResNet, Dictionary<GpuBackend, GpuSrResNet>> uploaded = [];

    public static GpuSrResNet For(SrResNet network, GpuBackend backend)
    {
        var byBackend = uploaded.GetOrCreateValue(network);
        lock (byBackend)
        {
            if (!byBackend.TryGetValue(backend, out var g))
            {
                GpuDevice device;
                try { device = GpuDevice.Shared(backend); }
                catch (GpuUnavailableException e) { throw new DeviceUnavailableException(e.Message); }
                byBackend[backend] = g = new GpuSrResNet(network, device);
            }
            return g;
        }
    }
}
