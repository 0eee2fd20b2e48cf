using RefQsr.Engine.Tiling;

namespace RefQsr.Engine.Metrics;

/// <summary>
/// BitOPs of the baselines (SPEC §7): only the quantized feature-extraction convs count,
/// all 3x3 64→64 on LR resolution, summed over every patch of the grid (overlaps and the
/// stretched border patches included).
/// </summary>
public static class Complexity
{
    public const int FeatureChannels = 64;

    public static int QuantizedConvCount(SrNetwork network) => network switch
    {
        SrNetwork.SrResNet => 32,
        SrNetwork.Carn => 18,
        _ => throw new ArgumentException($"Unknown network {network}.", nameof(network)),
    };

    /// <summary>MACs of one same-padded 3x3 conv on a width x height feature map.</summary>
    public static long Conv3x3Macs(int width, int height, int inChannels = FeatureChannels, int outChannels = FeatureChannels)
    {
        if (width < 1 || height < 1 || inChannels < 1 || outChannels < 1)
            throw new ArgumentException(
                $"Conv size must be positive, got {width}x{height} with {inChannels}→{outChannels} channels.");
        return checked((long)width * height * inChannels * outChannels * 9);
    }

    /// <summary>
    /// Every quantized conv of every patch at the same bit-widths (PAMS/DDTB at b bits, or
    /// FP32 with 32/32); use <see cref="PatchGrid.FullImage"/> for full-image inference.
    /// </summary>
    public static BitOpsCounter UniformBitOps(SrNetwork network, PatchGrid grid, int weightBits, int activationBits)
    {
        ArgumentNullException.ThrowIfNull(grid);
        int convs = QuantizedConvCount(network);
        var counter = new BitOpsCounter();
        foreach (Patch patch in grid.Patches)
            counter.AddConvs(convs, Conv3x3Macs(patch.Width, patch.Height), weightBits, activationBits);
        return counter;
    }
}
