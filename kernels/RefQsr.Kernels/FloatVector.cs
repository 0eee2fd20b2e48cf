using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using X86Fma = System.Runtime.Intrinsics.X86.Fma;

namespace RefQsr.Kernels;

/// <summary>The float vector operations of the kernels written once for two register widths
/// (<see cref="Float128"/>: the cross-platform Vector128 API, SSE or NEON; <see cref="Float256"/>:
/// AVX2 with FMA). A kernel generic over the operator struct is compiled by the JIT once per
/// width with every call inlined, as TensorPrimitives does. Each operation is one IEEE
/// operation per lane (Fma rounds once, through <see cref="ExactFma"/> on CPUs without an FMA
/// instruction), so both widths give the same bits.</summary>
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
    /// <summary>Lane t of phase k is src[3t + k] (reads src[0 .. 3·Count)).</summary>
    static abstract void LoadPhases3(float* src, out TV p0, out TV p1, out TV p2);
    /// <summary>Lanes 1 .. Count − 1 of v, then <paramref name="last"/>.</summary>
    static abstract TV NextLane(TV v, float last);
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
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Fma(Vector128<float> a, Vector128<float> b, Vector128<float> c) => ExactFma.MultiplyAdd(a, b, c);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> PRelu(Vector128<float> v, Vector128<float> slope)
        => Vector128.ConditionalSelect(Vector128.GreaterThan(v, Vector128<float>.Zero), v, slope * v);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void LoadPhases3(float* src, out Vector128<float> p0, out Vector128<float> p1, out Vector128<float> p2)
    {
        p0 = Vector128.Create(src[0], src[3], src[6], src[9]);
        p1 = Vector128.Create(src[1], src[4], src[7], src[10]);
        p2 = Vector128.Create(src[2], src[5], src[8], src[11]);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> NextLane(Vector128<float> v, float last)
        => Vector128.ConditionalSelect(Vector128.Create(0, 0, 0, -1).AsSingle(), Vector128.Create(last), Vector128.Shuffle(v, Vector128.Create(1, 2, 3, 3)));
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

    // 3 is odd, so the eight elements of a phase sit at eight different positions mod 8: two
    // blends gather them into one vector (masks: positions from b, then from c), and one permute
    // puts lane t at position (3t + k) mod 8
    static readonly Vector256<int> Phase0Order = Vector256.Create(0, 3, 6, 1, 4, 7, 2, 5);
    static readonly Vector256<int> Phase1Order = Vector256.Create(1, 4, 7, 2, 5, 0, 3, 6);
    static readonly Vector256<int> Phase2Order = Vector256.Create(2, 5, 0, 3, 6, 1, 4, 7);
    static readonly Vector256<int> NextLaneOrder = Vector256.Create(1, 2, 3, 4, 5, 6, 7, 7);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void LoadPhases3(float* src, out Vector256<float> p0, out Vector256<float> p1, out Vector256<float> p2)
    {
        var a = Vector256.Load(src); var b = Vector256.Load(src + 8); var c = Vector256.Load(src + 16);
        p0 = Avx2.PermuteVar8x32(Avx.Blend(Avx.Blend(a, b, 0x92), c, 0x24), Phase0Order);
        p1 = Avx2.PermuteVar8x32(Avx.Blend(Avx.Blend(a, b, 0x24), c, 0x49), Phase1Order);
        p2 = Avx2.PermuteVar8x32(Avx.Blend(Avx.Blend(a, b, 0x49), c, 0x92), Phase2Order);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> NextLane(Vector256<float> v, float last)
        => Avx.Blend(Avx2.PermuteVar8x32(v, NextLaneOrder), Vector256.Create(last), 0x80);
}
