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
}
