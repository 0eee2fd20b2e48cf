using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace RefQsr.Kernels;

/// <summary>The parameters of <see cref="ActivationQuantize"/>: clip range, scale, zero point
/// and the signed code range (stored codes are code − QLo).</summary>
public readonly record struct CodeQuantizer(float Lo, float Hi, float S, float Zp, int QLo, int QHi);

/// <summary>Float activations to unsigned codes (docs/integer-arithmetic.md):
/// code = clamp(round(clip(x, lo, hi)·s − zp), qlo, qhi) − qlo, in float32 in exactly that
/// order (a multiply and a subtract, never fused), rounding half to even; NaN gives 0.</summary>
public static class ActivationQuantize
{
    /// <summary>The scalar truth, one element.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static byte Reference(float x, float lo, float hi, float s, float zp, int qlo, int qhi)
    {
        float c = Math.Clamp(x, lo, hi);
        float t = c * s - zp;
        float r = MathF.Round(t);
        if (!(r >= qlo)) return 0;   // NaN lands here too
        return (byte)((r > qhi ? qhi : (int)r) - qlo);
    }

    public static byte Reference(float x, CodeQuantizer q) => Reference(x, q.Lo, q.Hi, q.S, q.Zp, q.QLo, q.QHi);

    public static void Run(ReadOnlySpan<float> x, Span<byte> codes, CodeQuantizer q) => Run(x, codes, q.Lo, q.Hi, q.S, q.Zp, q.QLo, q.QHi);

    /// <summary>Vector512 where available, Vector256 on AVX2 (16 codes per step either way), the
    /// reference elsewhere; the same bytes in every case.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(ReadOnlySpan<float> x, Span<byte> codes, float lo, float hi, float s, float zp, int qlo, int qhi)
    {
        if (codes.Length < x.Length) throw new ArgumentException($"{codes.Length} codes cannot hold {x.Length} activations");
        if (qhi - qlo > 255 || qhi < qlo) throw new ArgumentException($"code range [{qlo}, {qhi}] does not fit in a byte");
        int i = 0;
        if (Avx512F.IsSupported)
        {
            ref float px = ref MemoryMarshal.GetReference(x);
            ref byte pc = ref MemoryMarshal.GetReference(codes);
            var q = new VectorCodeQuantizer(new CodeQuantizer(lo, hi, s, zp, qlo, qhi));
            for (; i + 16 <= x.Length; i += 16)
                q.Codes(Vector512.LoadUnsafe(ref px, (nuint)i)).StoreUnsafe(ref pc, (nuint)i);
        }
        else if (Avx2.IsSupported)
        {
            ref float px = ref MemoryMarshal.GetReference(x);
            ref byte pc = ref MemoryMarshal.GetReference(codes);
            var q = new VectorCodeQuantizer256(new CodeQuantizer(lo, hi, s, zp, qlo, qhi));
            for (; i + 16 <= x.Length; i += 16)
                q.Codes(Vector256.LoadUnsafe(ref px, (nuint)i), Vector256.LoadUnsafe(ref px, (nuint)(i + 8))).StoreUnsafe(ref pc, (nuint)i);
        }
        for (; i < x.Length; i++) codes[i] = Reference(x[i], lo, hi, s, zp, qlo, qhi);
    }
}

/// <summary>A <see cref="CodeQuantizer"/> with its constants broadcast once, for loops that
/// quantize many vectors (hot loops must not rebuild them per vector).</summary>
internal readonly struct VectorCodeQuantizer(CodeQuantizer q)
{
    readonly Vector512<float> lo = Vector512.Create(q.Lo), hi = Vector512.Create(q.Hi), s = Vector512.Create(q.S), zp = Vector512.Create(q.Zp);
    readonly Vector512<int> qlo = Vector512.Create(q.QLo), qhi = Vector512.Create(q.QHi);

    /// <summary>16 codes from one vector, as <see cref="ActivationQuantize.Reference(float, CodeQuantizer)"/> per lane.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector128<byte> Codes(Vector512<float> v)
    {
        // operand order makes a NaN input propagate (maxps/minps return the second operand
        // on NaN); it converts to int.MinValue and clamps to qlo, as the reference does
        var c = Avx512F.Min(hi, Avx512F.Max(lo, v));
        var t = Avx512F.Subtract(Avx512F.Multiply(c, s), zp);
        var r = Avx512F.ConvertToVector512Int32(t);   // MXCSR default: nearest, ties to even
        r = Avx512F.Min(Avx512F.Max(r, qlo), qhi) - qlo;
        return Avx512F.ConvertToVector128Byte(r);
    }
}

/// <summary><see cref="VectorCodeQuantizer"/> in Vector256 registers (AVX2, no AVX-512): the
/// same clamps, the same one multiply and subtract, the same nearest-even conversion.</summary>
internal readonly struct VectorCodeQuantizer256(CodeQuantizer q)
{
    readonly Vector256<float> lo = Vector256.Create(q.Lo), hi = Vector256.Create(q.Hi), s = Vector256.Create(q.S), zp = Vector256.Create(q.Zp);
    readonly Vector256<int> qlo = Vector256.Create(q.QLo), qhi = Vector256.Create(q.QHi);

    /// <summary>16 codes from two vectors of 8, as <see cref="ActivationQuantize.Reference(float, CodeQuantizer)"/> per lane.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector128<byte> Codes(Vector256<float> a, Vector256<float> b)
    {
        var ra = Code(a).AsUInt32();
        var rb = Code(b).AsUInt32();
        var u16 = Vector256.Narrow(ra, rb);            // codes are 0..255 here: truncation is exact
        return Vector256.Narrow(u16, u16).GetLower();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    Vector256<int> Code(Vector256<float> v)
    {
        // operand order as in the Vector512 quantizer: a NaN propagates, converts to
        // int.MinValue and clamps to qlo
        var c = Avx.Min(hi, Avx.Max(lo, v));
        var t = Avx.Subtract(Avx.Multiply(c, s), zp);
        var r = Avx.ConvertToVector256Int32(t);   // MXCSR default: nearest, ties to even
        return Avx2.Min(Avx2.Max(r, qlo), qhi) - qlo;
    }
}
