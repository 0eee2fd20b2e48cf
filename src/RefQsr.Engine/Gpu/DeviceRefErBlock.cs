using ILGPU.Runtime;
using RefQsr.Engine.Networks;

namespace RefQsr.Engine.Gpu;

/// <summary>A RefER block's two integer convs at b_high on the device; its activation
/// quantizers (never gated) and PReLU slope stay on the host side of <see cref="Block"/>.</summary>
internal sealed class DeviceRefErBlock(Accelerator a, RefErBlock block, int bHigh) : IDisposable
{
    public RefErBlock Block { get; } = block;
    public DeviceQuantConv Quant1 { get; } = new(a, block.Conv1, bHigh);
    public DeviceQuantConv Quant2 { get; } = new(a, block.Conv2, bHigh);

    public void Dispose()
    {
        Quant1.Dispose();
        Quant2.Dispose();
    }
}
