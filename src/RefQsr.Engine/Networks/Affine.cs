namespace RefQsr.Engine.Networks;

/// <summary>Eval-mode BatchNorm as a per-channel affine y·A + B, with A = γ/√(var+ε) and
/// B = β − mean·A computed once in float32 (docs/integer-arithmetic.md).</summary>
internal sealed class Affine
{
    public const float Eps = 1e-5f;
    public float[] A { get; }
    public float[] B { get; }

    public Affine(float[] gamma, float[] beta, float[] mean, float[] var)
    {
        A = new float[gamma.Length];
        B = new float[gamma.Length];
        for (int c = 0; c < gamma.Length; c++)
        {
            A[c] = gamma[c] / MathF.Sqrt(var[c] + Eps);
            B[c] = beta[c] - mean[c] * A[c];
        }
    }

    /// <summary>A negative variance, or one whose fold overflows float32, is a broken model
    /// file: reported at load, naming the tensors, not as NaN in the output.</summary>
    public static Affine Load(Weights.ModelFile f, string prefix)
    {
        var var = f.Floats(prefix + "running_var");
        for (int c = 0; c < var.Length; c++)
            if (!(var[c] >= 0))
                throw new Weights.WeightsFormatException($"tensor '{prefix}running_var': variance {var[c]} of channel {c} is negative");
        var affine = new Affine(f.Floats(prefix + "weight"), f.Floats(prefix + "bias"), f.Floats(prefix + "running_mean"), var);
        for (int c = 0; c < var.Length; c++)
            if (!float.IsFinite(affine.A[c]) || !float.IsFinite(affine.B[c]))
                throw new Weights.WeightsFormatException(
                    $"batch norm '{prefix.TrimEnd('.')}': channel {c} folds to y·{affine.A[c]} + {affine.B[c]} (γ/√(var+ε) or β − mean·that overflows float32)");
        return affine;
    }

    /// <summary>x·A[c] + B[c] at every pixel: a multiply then an add per value (never fused).
    /// The network fuses it into the FP32 convs' epilogue; this is its separate-pass form.</summary>
    public void Apply(Span<float> hwc)
    {
        int c = A.Length;
        for (int i = 0; i < hwc.Length; i++)
        {
            int ch = i % c;
            hwc[i] = hwc[i] * A[ch] + B[ch];
        }
    }
}
