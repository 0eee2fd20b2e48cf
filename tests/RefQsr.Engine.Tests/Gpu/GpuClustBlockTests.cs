using RefQsr.Engine.Gpu;
using RefQsr.Engine.Networks;

namespace RefQsr.Engine.Tests.Gpu;

/// <summary>RefQSR's ClustBlock on the device against the CPU engine on every available
/// accelerator: the logits are identical, bit for bit (exact integer totals, then the same
/// float32 scale, bias and ReLU, and the same float64 pool), for patch sizes with and
/// without a remainder after the stride-3 conv and for patches too small for it.</summary>
[Collection(GpuCollection.Name)]
public sealed class GpuClustBlockTests
{
    [Theory]
    [MemberData(nameof(Accelerators.Available), MemberType = typeof(Accelerators))]
    public void LogitsAreIdentical(string accelerator)
    {
        var clust = ClustBlock.Load(TestModels.File(TestModels.ClustBlockConfig(), seed: 3));
        using var device = new DeviceClustBlock(clust, Accelerators.Get(accelerator));
        // larger then smaller patches: the scratch buffers are grown and then reused
        foreach (var (h, w) in new[] { (16, 16), (13, 20), (2, 9), (3, 3), (9, 2), (11, 7) })
        {
            var lr = TestModels.Image(h, w, seed: h + w);
            var expected = clust.Logits(lr, h, w);
            Assert.Equal(expected, device.Logits(lr, h, w));
        }
    }
}
