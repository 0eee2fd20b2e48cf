namespace RefQsr.Engine.Quantization;

/// <summary>One per-tensor uniform quantizer (docs/integer-arithmetic.md):
/// code = clamp(round(clip(x, Lo, Hi)·S − Zp), QLo, QHi), value = (code + Zp)/S.
/// All arithmetic is float32 in exactly this order so the trainer's integer simulation
/// produces the same codes; rounding is half to even.</summary>
public readonly record struct Quantizer(float Lo, float Hi, float S, float Zp, int QLo, int QHi, int Bits)
{
    /// <summary>DDTB's asymmetric form: s = (2^b − 1)/(hi − lo), zp = round(s·lo) + 2^(b−1).</summary>
    public static Quantizer Asymmetric(float lo, float hi, int bits)
    {
        CheckBits(bits);
        if (!(hi > lo) || !float.IsFinite(lo) || !float.IsFinite(hi))
            throw new ArgumentException($"quantizer range [{lo}, {hi}] is empty or not finite");
        float s = (float)((1 << bits) - 1) / (hi - lo);
        float zp = MathF.Round(s * lo) + (1 << (bits - 1));
        if (!float.IsFinite(s) || !float.IsFinite(zp))
            throw new ArgumentException($"quantizer range [{lo}, {hi}] is too narrow for {bits}-bit codes (its scale overflows float32)");
        return new Quantizer(lo, hi, s, zp, -(1 << (bits - 1)), (1 << (bits - 1)) - 1, bits);
    }

    /// <summary>PAMS's symmetric form: s = (2^(b−1) − 1)/alpha, no zero point.</summary>
    public static Quantizer Symmetric(float alpha, int bits)
    {
        CheckBits(bits);
        if (!(alpha > 0) || !float.IsFinite(alpha)) throw new ArgumentException($"quantizer bound {alpha} must be positive and finite");
        int qmax = (1 << (bits - 1)) - 1;
        if (!float.IsFinite(qmax / alpha))
            throw new ArgumentException($"quantizer bound {alpha} is too small for {bits}-bit codes (its scale overflows float32)");
        return new Quantizer(-alpha, alpha, qmax / alpha, 0f, -qmax, qmax, bits);
    }

    /// <summary>The signed code: the kernels' formula (<see cref="global::RefQsr.Kernels.ActivationQuantize.Reference(float, global::RefQsr.Kernels.CodeQuantizer)"/>), one definition for weights and activations.</summary>
    public int Code(float x) => global::RefQsr.Kernels.ActivationQuantize.Reference(x, ForKernels) + QLo;

    /// <summary>The stored unsigned activation code (0..2^b−1).</summary>
    public byte UnsignedCode(float x) => global::RefQsr.Kernels.ActivationQuantize.Reference(x, ForKernels);

    /// <summary>This quantizer as the kernels' parameter record.</summary>
    public global::RefQsr.Kernels.CodeQuantizer ForKernels => new(Lo, Hi, S, Zp, QLo, QHi);

    /// <summary><see cref="UnsignedCode"/> of every element, vectorised (the same bytes).</summary>
    public void UnsignedCodes(ReadOnlySpan<float> x, Span<byte> codes)
        => global::RefQsr.Kernels.ActivationQuantize.Run(x, codes, Lo, Hi, S, Zp, QLo, QHi);

    /// <summary>za of the conv correction: value = (unsigned code + ZeroOffset)/S.</summary>
    public int UnsignedZero => QLo + (int)Zp;

    public float Value(int code) => (code + Zp) / S;

    static void CheckBits(int bits)
    {
        if (bits is < 2 or > 8) throw new ArgumentException($"bit-width {bits} is outside 2..8");
    }
}
