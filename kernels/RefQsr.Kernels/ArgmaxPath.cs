namespace RefQsr.Kernels;

/// <summary>The implementations of <see cref="ArgmaxCostVolume"/>; all give the same indices
/// (ties to the lowest reference position).</summary>
public enum ArgmaxPath
{
    /// <summary>The scalar reference, <see cref="ArgmaxCostVolume.Reference"/>.</summary>
    Scalar,
    /// <summary>The cross-platform Vector128 API (ARM64, x64 without AVX2): codes widened to
    /// int16, 8 products per multiply, widened to int32 and summed. Runs on any CPU.</summary>
    Vector128,
    /// <summary>Codes widened to int16, vpmaddwd of a broadcast query channel pair against eight
    /// references' pairs, on blocks of 6 query x 16 reference positions (the AvxVnni path's
    /// blocking): no horizontal sums.</summary>
    Avx2,
    /// <summary>vpdpbusd on blocks of 6 query x 16 reference positions, the query codes
    /// shifted to unsigned and the shift subtracted per reference.</summary>
    AvxVnni,
}
