using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace RefQsr.Kernels;

/// <summary>The instruction sets the kernels choose their paths by, as the runtime reports
/// them (a DOTNET_Enable* setting can switch one off). The integer paths give the same numbers
/// on all; some FP32 convs sum in another order on each, so outputs agree to float rounding
/// (docs/performance.md, "Threading and determinism").</summary>
public static class CpuFeatures
{
    /// <summary>E.g. "AVX-512 (F, BW), AVX2, FMA, AVX-VNNI", or "scalar and Vector128 paths only"
    /// where none of them is (names only what is there, so a reader can search it).</summary>
    public static string Describe()
    {
        var s = new List<string>();
        if (Avx512F.IsSupported) s.Add(Avx512BW.IsSupported ? "AVX-512 (F, BW)" : "AVX-512 (F)");
        if (Avx2.IsSupported) s.Add("AVX2");
        if (Fma.IsSupported) s.Add("FMA");
        if (AvxVnni.IsSupported) s.Add("AVX-VNNI");
        return s.Count > 0 ? string.Join(", ", s)
            : Vector128.IsHardwareAccelerated ? "scalar and Vector128 paths only" : "scalar paths only";
    }

    /// <summary>The instruction sets among those <see cref="Describe"/> names that the processor
    /// reports (CPUID) but this process does not use, e.g. ["AVX2", "FMA"]; empty where there
    /// are none, and on processors other than x86. Either a DOTNET_Enable* setting switched
    /// them off, or this is a NativeAOT build whose instruction set leaves them out (the
    /// default one does: docs/native.md), and the kernels then take paths several times slower.
    /// Processor support is read from CPUID alone: a VM or OS that reports a set and keeps its
    /// registers off would be listed too.</summary>
    public static IReadOnlyList<string> Unused()
    {
        var s = new List<string>();
        if (!X86Base.IsSupported) return s;
        const int OsXsave = 1 << 27, AvxBit = 1 << 28, FmaBit = 1 << 12;
        int maxLeaf = X86Base.CpuId(0, 0).Eax;
        int ecx1 = X86Base.CpuId(1, 0).Ecx;
        if ((ecx1 & (OsXsave | AvxBit)) != (OsXsave | AvxBit) || maxLeaf < 7) return s;
        var (eax7, ebx7, _, _) = X86Base.CpuId(7, 0);
        bool avx512 = (ebx7 & (1 << 16)) != 0 && (ebx7 & (1 << 30)) != 0;   // F and BW, what the kernels need
        if (avx512 && !(Avx512F.IsSupported && Avx512BW.IsSupported)) s.Add("AVX-512 (F, BW)");
        if ((ebx7 & (1 << 5)) != 0 && !Avx2.IsSupported) s.Add("AVX2");
        if ((ecx1 & FmaBit) != 0 && !Fma.IsSupported) s.Add("FMA");
        if (eax7 >= 1 && (X86Base.CpuId(7, 1).Eax & (1 << 4)) != 0 && !AvxVnni.IsSupported) s.Add("AVX-VNNI");
        return s;
    }
}
