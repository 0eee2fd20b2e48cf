using RefQsr.Engine.Imaging;
using RefQsr.Engine.Tiling;

namespace RefQsr.Engine.Inference;

/// <summary>The HR image and what it cost (SPEC §7).</summary>
public sealed record UpscaleResult(RgbImage Image, PatchGrid Grid, double GigaBitOps, double Fqr, TimeSpan Elapsed);
