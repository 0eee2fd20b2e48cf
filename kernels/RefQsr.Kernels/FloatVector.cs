using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using X86Fma = System.Runtime.Intrinsics.X86.Fma;

namespace RefQsr.Kernels;

/// <summary>The float vector operations of the kernels written once for two register widths
/// (<see cref="Float128"/>: the cross-platform Vector128 API, SSE or NEON; <see cref="Float256"/>:
/// AVX2 with FMA). A kernel generic over the operator struct is compiled by the JIT once per
/// width with every call inlined, as TensorPrimitives does. Each operation is one IEEE
/// operation per lane (Fma rounds once), so both widths give the same bits.</summary>
internal unsafe interface IFloatVector<TV> where TV : unmanaged
{
    static abstract int Count { get; }
    static abstract TV Load(float* p);
    static abstract void Store(TV v, float* p);
    static abstract TV Broadcast(float x);
    static abstract TV Add(TV a, TV b);
    static abstract TV Subtract(TV a, TV b);
    static abstract TV Multiply(TV a, TV b);
    /// <summary>a·b + c, rounded once.</summary>
    static abstract TV Fma(TV a, TV b, TV c);
    /// <summary>v where v &gt; 0, else slope·v (NaN included), as Elementwise.PRelu.</summary>
    static abstract TV PRelu(TV v, TV slope);
}

internal readonly unsafe struct Float128 : IFloatVector<Vector128<float>>
{
    public static int Count => Vector128<float>.Count;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Load(float* p) => Vector128.Load(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(Vector128<float> v, float* p) => v.Store(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Broadcast(float x) => Vector128.Create(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Add(Vector128<float> a, Vector128<float> b) => a + b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Subtract(Vector128<float> a, Vector128<float> b) => a - b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Multiply(Vector128<float> a, Vector128<float> b) => a * b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Fma(Vector128<float> a, Vector128<float> b, Vector128<float> c) => Vector128.FusedMultiplyAdd(a, b, c);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> PRelu(Vector128<float> v, Vector128<float> slope)
        => Vector128.ConditionalSelect(Vector128.GreaterThan(v, Vector128<float>.Zero), v, slope * v);
}

internal readonly unsafe struct Float256 : IFloatVector<Vector256<float>>
{
    public static int Count => Vector256<float>.Count;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Load(float* p) => Vector256.Load(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(Vector256<float> v, float* p) => v.Store(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Broadcast(float x) => Vector256.Create(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Add(Vector256<float> a, Vector256<float> b) => a + b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Subtract(Vector256<float> a, Vector256<float> b) => a - b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Multiply(Vector256<float> a, Vector256<float> b) => a * b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Fma(Vector256<float> a, Vector256<float> b, Vector256<float> c) => X86Fma.MultiplyAdd(a, b, c);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> PRelu(Vector256<float> v, Vector256<float> slope)
        => Vector256.ConditionalSelect(Vector256.GreaterThan(v, Vector256<float>.Zero), v, slope * v);
}
