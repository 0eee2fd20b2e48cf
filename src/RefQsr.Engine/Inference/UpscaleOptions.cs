using RefQsr.Engine.Diagnostics;
using RefQsr.Engine.Tiling;

namespace RefQsr.Engine.Inference;

/// <summary>How an image is super-resolved.</summary>
public sealed record UpscaleOptions
{
    /// <summary>Patch size in LR pixels (SPEC §5); ignored with <see cref="FullImage"/>.</summary>
    public int PatchSize { get; init; } = PatchGrid.DefaultPatchSize;
    /// <summary>Run the whole image as one patch (the baselines' image-wise inference).</summary>
    public bool FullImage { get; init; }
    /// <summary>Worker threads; the output bytes do not depend on it.</summary>
    public int Threads { get; init; } = 1;
    /// <summary>Where the SRResNet runs (docs/gpu.md), for plain and RefQSR models alike.</summary>
    public ComputeDevice Device { get; init; } = ComputeDevice.Cpu;
    /// <summary>If set, the CPU forward adds its time per stage to it (head, quantized body,
    /// RefER, FP32 upsampler and tail, ClustBlock).</summary>
    public StageTimes? Profile { get; init; }
    /// <summary>RefQSR only: the cosine threshold tau of the patch pairing (SPEC §4) in
    /// place of the model's own; a lower tau pairs more patches as queries.</summary>
    public double? Tau { get; init; }
    /// <summary>Checked before every patch and between the blocks of a patch on the CPU (on
    /// a GPU: before every batch): a cancelled run throws <see cref="OperationCanceledException"/>
    /// and returns nothing, so a caller never sees a half-written image.</summary>
    public CancellationToken Cancellation { get; init; }
    /// <summary>Told after every finished patch (on a GPU: after every batch), from the worker
    /// thread that finished it; the count in each report is that patch's own. With several
    /// threads reports can arrive out of order, so keep the largest.</summary>
    public IProgress<UpscaleProgress>? Progress { get; init; }

    internal void Validate()
    {
        if (!Enum.IsDefined(Device)) throw new ArgumentException($"unknown compute device {(int)Device}");
        if (Tau is { } tau && !(tau >= -1 && tau <= 1)) throw new ArgumentException($"tau is a cosine threshold in -1..1, got {tau}");
        if (Threads < 1 || Threads > 256) throw new ArgumentException($"threads must be 1..256, got {Threads}");
        if (!FullImage && (PatchSize < 12 || PatchSize > 4096))
            throw new ArgumentException($"patch size must be 12..4096 LR pixels, got {PatchSize}");
    }
}
