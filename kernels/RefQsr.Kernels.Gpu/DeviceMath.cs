using ILGPU.Runtime.Cuda;

namespace RefQsr.Kernels.Gpu;

/// <summary>The few arithmetic operations whose exact rounding decides whether a device
/// kernel reproduces the CPU engine bit for bit. Kernels are generic over it and are
/// loaded with <see cref="CudaMath"/> on CUDA and <see cref="HostMath"/> on ILGPU's CPU
/// accelerator, so each backend compiles only its own branch (a dead CPU branch in PTX
/// would leave calls to undefined functions).</summary>
public interface IDeviceMath
{
    /// <summary>a·b rounded once (never fused with a following add).</summary>
    float Mul(float a, float b);
    /// <summary>a + b rounded once.</summary>
    float Add(float a, float b);
    /// <summary>a − b rounded once.</summary>
    float Sub(float a, float b);
    /// <summary>a·b in float64, rounded once (never fused with a following add).</summary>
    double MulF64(double a, double b);
    /// <summary>a + b in float64, rounded once.</summary>
    double AddF64(double a, double b);
    /// <summary>The largest integer not above x (MathF.Floor).</summary>
    float Floor(float x);
    /// <summary>a·b + c with one rounding, as the CPU engine's FMA conv loops.</summary>
    float Fma(float a, float b, float c);
    /// <summary>Round half to even (MathF.Round).</summary>
    float RoundEven(float x);
    /// <summary>c + Σ_k ubyte_k(a)·sbyte_k(w) over the four bytes (dp4a.u32.s32).</summary>
    int Dot4(int a, int w, int c);
    /// <summary>c + Σ_k sbyte_k(a)·sbyte_k(b) over the four bytes (dp4a.s32.s32).</summary>
    int Dot4Signed(int a, int b, int c);
}

/// <summary>Inline PTX: <c>mul.rn</c>/<c>add.rn</c> stop ptxas contracting a multiply and an
/// add into an FMA the CPU does not perform; <c>dp4a</c> is the 4-way byte dot product
/// (sm_61 and later).</summary>
public readonly struct CudaMath : IDeviceMath
{
    public float Mul(float a, float b) { CudaAsm.Emit("mul.rn.f32 %0, %1, %2;", out float r, a, b); return r; }
    public float Add(float a, float b) { CudaAsm.Emit("add.rn.f32 %0, %1, %2;", out float r, a, b); return r; }
    public float Sub(float a, float b) { CudaAsm.Emit("sub.rn.f32 %0, %1, %2;", out float r, a, b); return r; }
    public double MulF64(double a, double b) { CudaAsm.Emit("mul.rn.f64 %0, %1, %2;", out double r, a, b); return r; }
    public double AddF64(double a, double b) { CudaAsm.Emit("add.rn.f64 %0, %1, %2;", out double r, a, b); return r; }
    public float Floor(float x) { CudaAsm.Emit("cvt.rmi.f32.f32 %0, %1;", out float r, x); return r; }
    public float Fma(float a, float b, float c) { CudaAsm.Emit("fma.rn.f32 %0, %1, %2, %3;", out float r, a, b, c); return r; }
    public float RoundEven(float x) { CudaAsm.Emit("cvt.rni.f32.f32 %0, %1;", out float r, x); return r; }
    public int Dot4(int a, int w, int c) { CudaAsm.Emit("dp4a.u32.s32 %0, %1, %2, %3;", out int r, a, w, c); return r; }
    public int Dot4Signed(int a, int b, int c) { CudaAsm.Emit("dp4a.s32.s32 %0, %1, %2, %3;", out int r, a, b, c); return r; }
}

/// <summary>Plain .NET arithmetic for ILGPU's CPU accelerator (the correctness backend):
/// .NET never contracts a*b+c, and MathF.FusedMultiplyAdd is the exact FMA.</summary>
public readonly struct HostMath : IDeviceMath
{
    public float Mul(float a, float b) => a * b;
    public float Add(float a, float b) => a + b;
    public float Sub(float a, float b) => a - b;
    public double MulF64(double a, double b) => a * b;
    public double AddF64(double a, double b) => a + b;
    public float Floor(float x) => MathF.Floor(x);
    public float Fma(float a, float b, float c) => MathF.FusedMultiplyAdd(a, b, c);
    public float RoundEven(float x) => MathF.Round(x);
    public int Dot4(int a, int w, int c)
        => c + (a & 0xFF) * (sbyte)w + ((a >> 8) & 0xFF) * (sbyte)(w >> 8)
             + ((a >> 16) & 0xFF) * (sbyte)(w >> 16) + ((a >>> 24) & 0xFF) * (sbyte)(w >> 24);
    public int Dot4Signed(int a, int b, int c)
        => c + (sbyte)a * (sbyte)b + (sbyte)(a >> 8) * (sbyte)(b >> 8) + (sbyte)(a >> 16) * (sbyte)(b >> 16) + (sbyte)(a >> 24) * (sbyte)(b >> 24);
}
