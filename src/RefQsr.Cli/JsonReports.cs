using System.Text.Json;
using System.Text.Json.Serialization;

namespace RefQsr.Cli;

// The documents `--json` prints, one record each, written by source-generated code
// (CliJson) rather than by reflection, which the NativeAOT build does not have. Keys are the
// property names in snake_case (BitopsG -> bitops_g); nulls are written, so every key is
// always there.

/// <summary>`refqsr upscale --json`: one image.</summary>
internal sealed record ImageReport(string Input, string Output, string Model, int LrWidth, int LrHeight, int HrWidth, int HrHeight, int Patches,
    double BitopsG, double Fqr, double? ReferenceRatio, int? References, string? Clusters, string? Alpha, int InputBitsPerChannel,
    double Seconds, string Device, Dictionary<string, double>? StageSeconds);

/// <summary>`refqsr upscale DIR OUTDIR --json`: the images written and the ones skipped.</summary>
internal sealed record FolderReport(IReadOnlyList<ImageReport> Images, IReadOnlyList<FailedImage> Failed);

internal sealed record FailedImage(string Input, string Error);

/// <summary>`refqsr eval --json`: the dataset's means and each image's figures.</summary>
internal sealed record EvalReport(string Dataset, string Model, string Config, int Patch, int Images, double Psnr, double Ssim, double BitopsG,
    double Fqr, double? ReferenceRatio, string? Clustblock, double Seconds, string Device, IReadOnlyList<EvalImage> PerImage);

internal sealed record EvalImage(string Image, double Psnr, double Ssim, double BitopsG, double Fqr, double? ReferenceRatio, double Seconds);

/// <summary>`refqsr info --json`: the model, its cost on the input size, and the kernel paths it takes here.</summary>
internal sealed record InfoReport(string Model, string File, string Description, string Network, int Scale, int Channels, int Blocks,
    string Quantizer, int WBits, int ABits, IReadOnlyList<int> DdtbGated, long Parameters, long ResidentBytes, InfoRefQsr? Refqsr,
    string? Clustblock, int LrWidth, int LrHeight, int Patch, int Patches, long PatchAreaLrPx, double BitopsG, double Fqr,
    double? ReferenceRatio, int? References, string? CostBasis, IReadOnlyList<InfoConvPath> ConvPaths, string Cpu,
    IReadOnlyList<string> CpuUnused, IReadOnlyList<InfoFloatConvPath> FloatConvPaths);

internal sealed record InfoRefQsr(int BHigh, int BLow, int BMedium, double Tau, IReadOnlyList<int> ReferBlocks);

internal sealed record InfoConvPath(string Role, int WBits, int ABits, string Path, int Convs);

internal sealed record InfoFloatConvPath(string Layer, int Kernel, int InChannels, int OutChannels, string Algorithm, int Convs);

/// <summary>`refqsr parity --json`: each traced quantizer's identical codes, the HR output's
/// max |difference| and PSNR against the reference, and whether the acceptance holds.</summary>
internal sealed record ParityReport(string Fixture, string Model, string Config, string Scope, bool Passes, IReadOnlyList<ParityLayer> Layers,
    double HrMaxAbs, double HrPsnr, int HeadDiffering, int HeadTotal, RefQsrParityReport? Refqsr);

/// <summary>A RefQSR fixture's own stages: logits, references, the query patch.</summary>
internal sealed record RefQsrParityReport(bool Passes, int Patches, double LogitsMaxRelError, IReadOnlyList<int> References, bool ReferencesMatch,
    IReadOnlyList<ParityLayer> QueryLayers, IReadOnlyList<ParityMatching> QueryMatchings, double QueryHrMaxAbs, double QueryHrPsnr);

/// <summary>One RefER block's argmax positions and pixel flow against the reference's.</summary>
internal sealed record ParityMatching(string Name, int Identical, int Total, double FlowMaxAbs, bool Passes);

internal sealed record ParityLayer(string Name, int Identical, int Total, bool Passes);

[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals)]
[JsonSerializable(typeof(ImageReport))]
[JsonSerializable(typeof(FolderReport))]
[JsonSerializable(typeof(EvalReport))]
[JsonSerializable(typeof(InfoReport))]
[JsonSerializable(typeof(ParityReport))]
internal sealed partial class CliJson : JsonSerializerContext;
