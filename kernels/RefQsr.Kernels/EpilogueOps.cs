namespace RefQsr.Kernels;

/// <summary>What follows a quantized conv element-wise, fused into its epilogue (applied in
/// this order, each in float32 exactly as the separate passes would):
/// y·A[c] + B[c] (BN), then PReLU, then + Residual.</summary>
public readonly ref struct EpilogueOps
{
    public ReadOnlySpan<float> AffineA { get; init; }
    public ReadOnlySpan<float> AffineB { get; init; }
    public float? PReluSlope { get; init; }
    public ReadOnlySpan<float> Residual { get; init; }

    public bool HasAffine => !AffineA.IsEmpty;
    public bool HasResidual => !Residual.IsEmpty;
}
