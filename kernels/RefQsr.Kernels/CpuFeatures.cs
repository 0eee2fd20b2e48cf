using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace RefQsr.Kernels;

/// <summary>The instruction sets the kernels choose their paths by, as the runtime reports
/// them (a DOTNET_Enable* setting can switch one off). The integer paths give the same numbers
/// on all; some FP32 convs sum in another order on each, so outputs agree to float rounding
/// (docs/performance.md, "Threading and determinism").</summary>
public static class CpuFeatures
{
    /// <summary>E.g. "AVX-512 (F, BW), AVX2, FMA, AVX-VNNI" or "none: scalar and Vector128 paths".</summary>
    public static string Describe()
    {
        var s = new List<string>();
        if (Avx512F.IsSupported) s.Add(Avx512BW.IsSupported ? "AVX-512 (F, BW)" : "AVX-512 (F)");
        if (Avx2.IsSupported) s.Add("AVX2");
        if (Fma.IsSupported) s.Add("FMA");
        if (AvxVnni.IsSupported) s.Add("AVX-VNNI");
        return s.Count > 0 ? string.Join(", ", s)
            : Vector128.IsHardwareAccelerated ? "none of AVX2/AVX-512: scalar and Vector128 paths" : "none: scalar paths";
    }
}
