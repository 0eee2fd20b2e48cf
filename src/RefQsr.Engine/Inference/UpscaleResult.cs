using RefQsr.Engine.Imaging;
using RefQsr.Engine.RefQsr;
using RefQsr.Engine.Tiling;

namespace RefQsr.Engine.Inference;

/// <summary>The HR image and what it cost (SPEC §7). RefQSR runs also carry their patch
/// pairing (<see cref="Clusters"/>).</summary>
public sealed record UpscaleResult(RgbImage Image, PatchGrid Grid, double GigaBitOps, double Fqr, TimeSpan Elapsed)
{
    /// <summary>RefQSR only: each patch's reference; null for a plain run.</summary>
    public ClusterAssignment? Clusters { get; init; }

    /// <summary>RefQSR only: reference patches / patches.</summary>
    public double? ReferenceRatio => Clusters?.ReferenceRatio;

    /// <summary>What ran the network: "cpu", or the GPU backend and device name.</summary>
    public string Device { get; init; } = "cpu";
}
