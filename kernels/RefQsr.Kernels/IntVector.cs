using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace RefQsr.Kernels;

/// <summary>The int16/int32 vector operations of the integer Winograd kernel written once for
/// two register widths (<see cref="Int128"/>: the cross-platform Vector128 API; <see cref="Int256"/>:
/// AVX2), as <see cref="IFloatVector{TV}"/> is for the FP32 kernels. Integer operations, so
/// both widths give the same numbers.</summary>
internal unsafe interface IIntVectors<TS, TI> where TS : unmanaged where TI : unmanaged
{
    /// <summary>int16 lanes per <typeparamref name="TS"/>; int32 lanes per <typeparamref name="TI"/> are half.</summary>
    static abstract int ShortCount { get; }
    /// <summary>ShortCount bytes at p, zero-extended to int16.</summary>
    static abstract TS WidenBytes(byte* p);
    static abstract void Store(TS v, short* p);
    static abstract TS Add(TS a, TS b);
    static abstract TS Subtract(TS a, TS b);
    static abstract TS ShiftLeft(TS a, int bits);
    static abstract TI Load(int* p);
    static abstract void Store(TI v, int* p);
    static abstract TI Broadcast(int x);
    static abstract TI Add(TI a, TI b);
    static abstract TI Subtract(TI a, TI b);
    static abstract TI ShiftLeft(TI a, int bits);
    /// <summary>The low 32 bits of each lane's product.</summary>
    static abstract TI Multiply(TI a, TI b);
    static abstract TI ShiftRightArithmetic(TI a, int bits);
    /// <summary>Output channels per <see cref="Gemm4"/> call.</summary>
    static abstract int GemmChannels { get; }
    /// <summary>Four tiles' products at one Winograd position for GemmChannels output channels:
    /// m[t·64 + c] = Σ_ci v[t·cin + ci]·u[ci/2][c][ci mod 2], with u's rows of channel pairs
    /// 2·cout shorts apart (exact: every product and the whole sum fit int32).</summary>
    static abstract void Gemm4(short* v, short* u, int cin, int cout, int* m);
}

internal readonly unsafe struct Int128 : IIntVectors<Vector128<short>, Vector128<int>>
{
    public static int ShortCount => 8;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<short> WidenBytes(byte* p) => Vector128.WidenLower(Vector128.CreateScalar(*(ulong*)p).AsByte()).AsInt16();
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(Vector128<short> v, short* p) => v.Store(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<short> Add(Vector128<short> a, Vector128<short> b) => a + b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<short> Subtract(Vector128<short> a, Vector128<short> b) => a - b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<short> ShiftLeft(Vector128<short> a, int bits) => a << bits;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<int> Load(int* p) => Vector128.Load(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(Vector128<int> v, int* p) => v.Store(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<int> Broadcast(int x) => Vector128.Create(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<int> Add(Vector128<int> a, Vector128<int> b) => a + b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<int> Subtract(Vector128<int> a, Vector128<int> b) => a - b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<int> ShiftLeft(Vector128<int> a, int bits) => a << bits;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<int> Multiply(Vector128<int> a, Vector128<int> b) => a * b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<int> ShiftRightArithmetic(Vector128<int> a, int bits) => a >> bits;
    public static int GemmChannels => 4;

    /// <summary>No vpmaddwd in the cross-platform API: each weight pair and activation pair is
    /// widened to int32 and multiplied there (|U'|, |V'| &lt; 2¹⁵, so every product fits), each
    /// lane summing one channel's even or odd input channels, the two added at the end.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Gemm4(short* v, short* u, int cin, int cout, int* m)
    {
        // lanes: channel 0 even, channel 0 odd, channel 1 even, channel 1 odd (lo); 2, 3 (hi)
        Vector128<int> a0 = default, a1 = default, b0 = default, b1 = default;
        Vector128<int> c0 = default, c1 = default, e0 = default, e1 = default;
        int* va = (int*)v, vb = (int*)(v + cin), vc = (int*)(v + 2 * cin), ve = (int*)(v + 3 * cin);
        for (int cp = 0; cp < cin / 2; cp++, u += 2 * cout)
        {
            var (w0, w1) = Vector128.Widen(Vector128.Load(u));
            var x = Vector128.WidenLower(Vector128.Create(va[cp]).AsInt16());
            a0 += w0 * x; a1 += w1 * x;
            x = Vector128.WidenLower(Vector128.Create(vb[cp]).AsInt16());
            b0 += w0 * x; b1 += w1 * x;
            x = Vector128.WidenLower(Vector128.Create(vc[cp]).AsInt16());
            c0 += w0 * x; c1 += w1 * x;
            x = Vector128.WidenLower(Vector128.Create(ve[cp]).AsInt16());
            e0 += w0 * x; e1 += w1 * x;
        }
        StorePairSums(a0, a1, m); StorePairSums(b0, b1, m + 64);
        StorePairSums(c0, c1, m + 128); StorePairSums(e0, e1, m + 192);
    }

    /// <summary>m[0..3] = the sums of lanes (0, 1) and (2, 3) of lo, then of hi.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void StorePairSums(Vector128<int> lo, Vector128<int> hi, int* m)
    {
        var even = Vector128.Create(lo.GetElement(0), lo.GetElement(2), hi.GetElement(0), hi.GetElement(2));
        var odd = Vector128.Create(lo.GetElement(1), lo.GetElement(3), hi.GetElement(1), hi.GetElement(3));
        (even + odd).Store(m);
    }
}

internal readonly unsafe struct Int256 : IIntVectors<Vector256<short>, Vector256<int>>
{
    public static int ShortCount => 16;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<short> WidenBytes(byte* p) => Avx2.ConvertToVector256Int16(Vector128.Load(p));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(Vector256<short> v, short* p) => v.Store(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<short> Add(Vector256<short> a, Vector256<short> b) => a + b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<short> Subtract(Vector256<short> a, Vector256<short> b) => a - b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<short> ShiftLeft(Vector256<short> a, int bits) => a << bits;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<int> Load(int* p) => Vector256.Load(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(Vector256<int> v, int* p) => v.Store(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<int> Broadcast(int x) => Vector256.Create(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<int> Add(Vector256<int> a, Vector256<int> b) => a + b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<int> Subtract(Vector256<int> a, Vector256<int> b) => a - b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<int> ShiftLeft(Vector256<int> a, int bits) => a << bits;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<int> Multiply(Vector256<int> a, Vector256<int> b) => a * b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<int> ShiftRightArithmetic(Vector256<int> a, int bits) => a >> bits;
    public static int GemmChannels => 16;

    /// <summary>vpmaddwd of each broadcast activation pair against 8 channels' weight pairs,
    /// 4 tiles x 16 channels (8 sums of AVX2's 16 registers).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Gemm4(short* v, short* u, int cin, int cout, int* m)
    {
        Vector256<int> a0 = default, a1 = default, b0 = default, b1 = default;
        Vector256<int> c0 = default, c1 = default, e0 = default, e1 = default;
        int* va = (int*)v, vb = (int*)(v + cin), vc = (int*)(v + 2 * cin), ve = (int*)(v + 3 * cin);
        for (int cp = 0; cp < cin / 2; cp++, u += 2 * cout)
        {
            var w0 = Vector256.Load(u); var w1 = Vector256.Load(u + 16);
            var x = Vector256.Create(va[cp]).AsInt16();
            a0 += Avx2.MultiplyAddAdjacent(x, w0); a1 += Avx2.MultiplyAddAdjacent(x, w1);
            x = Vector256.Create(vb[cp]).AsInt16();
            b0 += Avx2.MultiplyAddAdjacent(x, w0); b1 += Avx2.MultiplyAddAdjacent(x, w1);
            x = Vector256.Create(vc[cp]).AsInt16();
            c0 += Avx2.MultiplyAddAdjacent(x, w0); c1 += Avx2.MultiplyAddAdjacent(x, w1);
            x = Vector256.Create(ve[cp]).AsInt16();
            e0 += Avx2.MultiplyAddAdjacent(x, w0); e1 += Avx2.MultiplyAddAdjacent(x, w1);
        }
        a0.Store(m); a1.Store(m + 8);
        b0.Store(m + 64); b1.Store(m + 72);
        c0.Store(m + 128); c1.Store(m + 136);
        e0.Store(m + 192); e1.Store(m + 200);
    }
}
