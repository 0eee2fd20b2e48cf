using System.Runtime.Intrinsics.X86;
using RefQsr.Kernels;

namespace RefQsr.Engine.Tests.Kernels;

/// <summary><see cref="CpuFeatures.Unused"/> against the kernel's own account of the processor
/// (/proc/cpuinfo's flags, Linux only): CI runs the suite as is and with AVX-512 and AVX2
/// switched off, so each pass expects a different list on the same machine.</summary>
public class CpuFeaturesTests
{
    static HashSet<string>? LinuxCpuFlags()
    {
        if (!OperatingSystem.IsLinux() || !File.Exists("/proc/cpuinfo")) return null;
        var line = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("flags", StringComparison.Ordinal));
        return line is null ? null : [.. line[(line.IndexOf(':') + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries)];
    }

    [Fact]
    public void UnusedListsWhatTheProcessorHasAndTheRuntimeDoesNotUse()
    {
        var unused = CpuFeatures.Unused();
        if (!X86Base.IsSupported)
        {
            Assert.Empty(unused);
            return;
        }
        var flags = LinuxCpuFlags();
        if (flags is null) return;   // no independent account of the processor here
        Assert.Equal(flags.Contains("avx2") && !Avx2.IsSupported, unused.Contains("AVX2"));
        Assert.Equal(flags.Contains("fma") && !Fma.IsSupported, unused.Contains("FMA"));
        Assert.Equal(flags.Contains("avx512f") && flags.Contains("avx512bw") && !(Avx512F.IsSupported && Avx512BW.IsSupported),
            unused.Contains("AVX-512 (F, BW)"));
        Assert.Equal(flags.Contains("avx_vnni") && !AvxVnni.IsSupported, unused.Contains("AVX-VNNI"));
    }
}
