using System.Diagnostics;
using System.Runtime.InteropServices;
using ILGPU;
using ILGPU.Runtime;
using RefQsr.Kernels;
using RefQsr.Kernels.Gpu;

namespace RefQsr.GpuBench;

/// <summary>The integer 3x3 conv (64→64, random codes) on the device, with 8-bit and 4-bit
/// packed weights: both kernels against the CPU engine's integers, then their times (median
/// of the repeats, after one warm-up).</summary>
internal static class ConvTiming
{
    public static object Run(GpuDevice device, int h, int w, int repeats, Action<string> log, ref bool allOk)
    {
        const int ch = 64;
        var rng = new Random(11);
        var codes = new byte[h * w * ch];
        rng.NextBytes(codes);
        var k = device.Kernels;
        var a = device.Accelerator;
        using var dCodes = a.Allocate1D(MemoryMarshal.Cast<byte, int>(codes).ToArray());
        using var dAcc = a.Allocate1D<int>(h * w * ch);
        using var dSums = a.Allocate1D<int>(h * w);
        var rows = new List<object>();
        foreach (int bits in new[] { 8, 4 })
        {
            var weights = new sbyte[ch * ch * 9];
            for (int i = 0; i < weights.Length; i++) weights[i] = (sbyte)rng.Next(-(1 << (bits - 1)), 1 << (bits - 1));
            var qw = new QuantConvWeights(weights, ch, ch, bits);
            var expected = new int[h * w * ch];
            QuantConv3x3.Run(codes, qw, expected, h, w, Environment.ProcessorCount);
            using var dWeights = a.Allocate1D(PackedWeights.Pack(qw.UnpackOutTapIn(), bits));
            var dims = new QuantConvDims(h, w, ch, ch, 1, bits);
            foreach (var variant in new[] { ConvVariant.Naive, ConvVariant.Tiled })
            {
                k.QuantConvAccumulate(dCodes.View, dWeights.View, dAcc.View, dSums.View, dims, variant);
                k.Synchronize();
                bool ok = expected.AsSpan().SequenceEqual(dAcc.GetAsArray1D());
                allOk &= ok;
                var times = new List<double>();
                for (int r = 0; r < repeats; r++)
                {
                    var sw = Stopwatch.StartNew();
                    k.QuantConvAccumulate(dCodes.View, dWeights.View, dAcc.View, dSums.View, dims, variant);
                    k.Synchronize();
                    times.Add(sw.Elapsed.TotalSeconds);
                }
                times.Sort();
                double median = times[times.Count / 2];
                double gmacs = (double)h * w * ch * ch * 9 / median / 1e9;
                log($"integer conv 64->64 {w}x{h} w{bits} {variant,-5}: {(ok ? "identical to the CPU" : "DIFFERS FROM THE CPU")}, median {median * 1e3:F3} ms ({gmacs:F0} GMAC/s)");
                rows.Add(new { variant = variant.ToString(), weight_bits = bits, identical = ok, median_ms = median * 1e3, gmac_per_s = gmacs });
            }
        }
        return rows;
    }
}
