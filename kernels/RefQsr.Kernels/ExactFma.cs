using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using X86Fma = System.Runtime.Intrinsics.X86.Fma;

namespace RefQsr.Kernels;

/// <summary>a·b + c rounded once, four lanes at a time, for CPUs with no fused multiply-add
/// instruction (x64 without FMA3: pre-2013 cores and the SSE-only Atom-class Celerons and
/// Pentiums). There Vector128.FusedMultiplyAdd calls a software fma per lane; this computes
/// four lanes with vector instructions and the same bits (docs/performance.md has what it
/// saves on a whole upscale).
/// <para>Why it is exact: the product of two floats has at most 48 significant bits, so it is
/// exact in double. The double sum p + c is then rounded to odd: TwoSum gives the sum's exact
/// error e, and where e ≠ 0 the sum is replaced by whichever of the two doubles around the
/// exact value has an odd last bit (truncate toward the exact value, then set the last bit).
/// Rounding to odd at 53 bits and then to nearest at 24 gives the correctly rounded result,
/// since 53 ≥ 24 + 2 (Boldo and Melquiond, "Emulation of FMA and correctly rounded sums:
/// proved algorithms using rounding to odd", 2008); a plain double sum would round twice and
/// differ where it lands on a float midpoint.</para></summary>
internal static class ExactFma
{
    /// <summary>Whether Vector128.FusedMultiplyAdd is one instruction here (FMA3, or NEON on ARM64).</summary>
    public static bool InHardware => X86Fma.IsSupported || AdvSimd.IsSupported;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> MultiplyAdd(Vector128<float> a, Vector128<float> b, Vector128<float> c)
        => InHardware ? Vector128.FusedMultiplyAdd(a, b, c) : Emulated(a, b, c);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Emulated(Vector128<float> a, Vector128<float> b, Vector128<float> c)
        => Vector128.Narrow(
            SumRoundedToOdd(Vector128.WidenLower(a) * Vector128.WidenLower(b), Vector128.WidenLower(c)),
            SumRoundedToOdd(Vector128.WidenUpper(a) * Vector128.WidenUpper(b), Vector128.WidenUpper(c)));

    /// <summary>p + c rounded to odd. Non-finite sums make e NaN, and are returned as summed.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector128<double> SumRoundedToOdd(Vector128<double> p, Vector128<double> c)
    {
        var s = p + c;
        var pPart = s - c;                                 // TwoSum (Knuth): s + e = p + c exactly
        var e = (p - pPart) + (c - (s - pPart));
        var inexact = (Vector128.Equals(e, e) & ~Vector128.Equals(e, Vector128<double>.Zero)).AsUInt64() & Vector128<ulong>.One;
        var bits = s.AsUInt64();
        var awayFromExact = Vector128.ShiftRightLogical(bits ^ e.AsUInt64(), 63) & inexact;   // e's sign differs: |s| is above |p + c|
        return ((bits - awayFromExact) | inexact).AsDouble();
    }
}
