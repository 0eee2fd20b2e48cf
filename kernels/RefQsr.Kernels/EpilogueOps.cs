namespace RefQsr.Kernels;

/// <summary>What follows a quantized conv element-wise, fused into its epilogue (applied in
/// this order, each in float32 exactly as the separate passes would):
/// y·A[c] + B[c] (BN), then PReLU, then + Residual, then optionally the next conv's codes. The residual may be the output array
/// itself (each element is read before it is written).</summary>
public readonly record struct EpilogueOps
{
    public float[]? AffineA { get; init; }
    public float[]? AffineB { get; init; }
    public float? PReluSlope { get; init; }
    public float[]? Residual { get; init; }
    /// <summary>If set, the final values are also quantized with <see cref="NextQuantizer"/>
    /// into these codes in the same pass: the next conv's input, ready for its kernel.</summary>
    public byte[]? NextCodes { get; init; }
    public CodeQuantizer NextQuantizer { get; init; }
    /// <summary>With <see cref="NextCodes"/>: write only the codes, not the float output, when
    /// nothing else reads it (a ResBlock's conv1 output feeds only conv2). The output may then
    /// be empty.</summary>
    public bool CodesOnly { get; init; }
}
