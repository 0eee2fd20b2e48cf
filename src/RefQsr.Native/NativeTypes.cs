using System.Runtime.InteropServices;

namespace RefQsr.Native;

// The structs and codes of include/refqsr.h, field for field.

/// <summary>refqsr_status.</summary>
internal enum Status
{
    Ok = 0,
    InvalidArgument = 1,
    BadModel = 2,
    ModelArithmetic = 3,
    OutOfMemory = 4,
    Cancelled = 5,
    Internal = 6,
}

/// <summary>refqsr_options.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct NativeOptions
{
    public uint StructSize;
    public int PatchSize;
    public int FullImage;
    public int Threads;
    public int SetTau;
    public double Tau;
    public delegate* unmanaged<int, int, nint, int> Progress;
    public nint ProgressUser;
}

/// <summary>refqsr_stats.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct NativeStats
{
    public uint StructSize;
    public int Patches;
    public double GigaBitOps;
    public double Fqr;
    public double ReferenceRatio;
    public double Seconds;
}
