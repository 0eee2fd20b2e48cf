using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;
using ILGPU;
using ILGPU.Runtime;
using RefQsr.Engine.Networks;
using RefQsr.Engine.Quantization;
using RefQsr.Kernels;
using RefQsr.Kernels.Gpu;

namespace RefQsr.Engine.Tests.Gpu;

/// <summary>Every GPU kernel against the CPU engine's kernel on small shapes, on every
/// available accelerator. Integer results (accumulators, codes) and the epilogue, quantizer,
/// element-wise and shuffle outputs are identical; FP32 convs are identical on a CPU with
/// AVX-512 and FMA (the device sums in the CPU kernel's order), else within float tolerance.</summary>
[Collection(GpuCollection.Name)]
public sealed class GpuKernelTests
{
    static bool CpuFmaOrder => Avx512F.IsSupported && Fma.IsSupported;

    static int[] Pack(ReadOnlySpan<byte> bytes) => MemoryMarshal.Cast<byte, int>(bytes).ToArray();
    static int[] Pack(ReadOnlySpan<sbyte> bytes) => MemoryMarshal.Cast<sbyte, int>(bytes).ToArray();

    static (byte[] Codes, sbyte[] Weights) RandomConv(int h, int w, int cin, int cout, int seed)
    {
        var rng = new Random(seed);
        var codes = new byte[h * w * cin];
        var weights = new sbyte[cout * cin * 9];
        rng.NextBytes(codes);
        for (int i = 0; i < weights.Length; i++) weights[i] = (sbyte)rng.Next(-128, 128);
        return (codes, weights);
    }

    /// <summary>Per pixel, the sum of the codes of its valid taps: the reference conv with one
    /// output channel of all-ones weights.</summary>
    static int[] CodeSums(byte[] codes, int h, int w, int cin)
    {
        var sums = new int[h * w];
        QuantConv3x3.Reference(codes, Enumerable.Repeat((sbyte)1, cin * 9).ToArray(), sums, new ConvShape(h, w, cin, 1, 3));
        return sums;
    }

    /// <summary>The device accumulators; also checks the code sums the kernel writes for the epilogue.</summary>
    static int[] DeviceAccumulate(DeviceKernels k, byte[] codes, QuantConvWeights qw, int h, int w, ConvVariant variant)
    {
        var a = k.Accelerator;
        using var dCodes = a.Allocate1D(Pack(codes));
        using var dWeights = a.Allocate1D(PackedWeights.Pack(qw.UnpackOutTapIn(), qw.Bits));
        using var dAcc = a.Allocate1D<int>(h * w * qw.OutChannels);
        using var dSums = a.Allocate1D<int>(h * w);
        k.QuantConvAccumulate(dCodes.View, dWeights.View, dAcc.View, dSums.View, new QuantConvDims(h, w, qw.InChannels, qw.OutChannels, 1, qw.Bits), variant);
        k.Synchronize();
        Assert.Equal(CodeSums(codes, h, w, qw.InChannels), dSums.GetAsArray1D());
        return dAcc.GetAsArray1D();
    }

    [Theory]
    [MemberData(nameof(Accelerators.Available), MemberType = typeof(Accelerators))]
    public void IntegerConvAccumulatorsAreIdentical(string accelerator)
    {
        var k = Accelerators.Get(accelerator).Kernels;
        // tiles of 16x8 pixels and 8 output channels: partial tiles in x, y and channels, several tiles
        foreach (var (h, w, cin, cout) in new[] { (5, 7, 8, 6), (3, 4, 12, 8), (1, 1, 4, 3), (6, 2, 16, 16), (11, 19, 64, 20), (9, 17, 128, 8) })
        {
            var (codes, weights) = RandomConv(h, w, cin, cout, h * 100 + cin);
            var qw = new QuantConvWeights(weights, cout, cin);
            var expected = new int[h * w * cout];
            QuantConv3x3.Reference(codes, weights, expected, new ConvShape(h, w, cin, cout, 3));
            Assert.Equal(expected, DeviceAccumulate(k, codes, qw, h, w, ConvVariant.Naive));
            Assert.Equal(expected, DeviceAccumulate(k, codes, qw, h, w, ConvVariant.Tiled));
        }
    }

    /// <summary>Weights packed at every width 2..8 (codes over the whole signed range, so the
    /// offset-binary fields and the words that straddle two stream words are all exercised).</summary>
    [Theory]
    [MemberData(nameof(Accelerators.Available), MemberType = typeof(Accelerators))]
    public void IntegerConvWithBitPackedWeightsIsIdenticalAtEveryWidth(string accelerator)
    {
        var k = Accelerators.Get(accelerator).Kernels;
        var rng = new Random(9);
        foreach (int bits in new[] { 2, 3, 4, 5, 6, 7, 8 })
        {
            const int h = 5, w = 6, cin = 12, cout = 10;
            var (codes, _) = RandomConv(h, w, cin, cout, bits);
            var weights = new sbyte[cout * cin * 9];
            for (int i = 0; i < weights.Length; i++) weights[i] = (sbyte)rng.Next(-(1 << (bits - 1)), 1 << (bits - 1));
            weights[0] = (sbyte)-(1 << (bits - 1));
            weights[1] = (sbyte)((1 << (bits - 1)) - 1);
            var qw = new QuantConvWeights(weights, cout, cin, bits);
            var expected = new int[h * w * cout];
            QuantConv3x3.Reference(codes, weights, expected, new ConvShape(h, w, cin, cout, 3));
            Assert.Equal(expected, DeviceAccumulate(k, codes, qw, h, w, ConvVariant.Naive));
            Assert.Equal(expected, DeviceAccumulate(k, codes, qw, h, w, ConvVariant.Tiled));
            Assert.Equal(PackedWeights.Words(weights.Length, bits), PackedWeights.Pack(qw.UnpackOutTapIn(), bits).Length);
        }
    }

    [Fact]
    public void PackingRefusesCodesOutsideTheWidth()
    {
        Assert.Contains("does not fit 3 bits", Assert.Throws<ArgumentException>(() => PackedWeights.Pack([1, 2, 3, 4], 3)).Message);
        Assert.Contains("does not fit 3 bits", Assert.Throws<ArgumentException>(() => PackedWeights.Pack([-5, 0, 0, 0], 3)).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => PackedWeights.Pack([0, 0, 0, 0], 9));
        Assert.Equal(2, PackedWeights.Pack([-2, 1, 0, -1], 2).Length);
    }

    [Theory]
    [MemberData(nameof(Accelerators.Available), MemberType = typeof(Accelerators))]
    public void ConvEpilogueIsIdentical(string accelerator)
    {
        var k = Accelerators.Get(accelerator).Kernels;
        var a = k.Accelerator;
        foreach (var (h, w, cin, cout, za, zw, scale) in new[] { (5, 6, 8, 8, -125, -7, 0.0123f), (4, 3, 16, 4, -8, 3, 1.7e-4f), (2, 2, 4, 4, 0, 0, 0.5f) })
        {
            var (codes, weights) = RandomConv(h, w, cin, cout, za + 1000);
            var qw = new QuantConvWeights(weights, cout, cin);
            var acc = new int[h * w * cout];
            QuantConv3x3.Reference(codes, weights, acc, new ConvShape(h, w, cin, cout, 3));
            var expected = new float[acc.Length];
            QuantConvEpilogue.Dequantize(codes, acc, qw, h, w, za, zw, scale, expected);

            using var dSums = a.Allocate1D(CodeSums(codes, h, w, cin));
            using var dAcc = a.Allocate1D(acc);
            using var dTaps = a.Allocate1D(qw.TapSums);
            using var dOut = a.Allocate1D<float>(acc.Length);
            k.QuantConvEpilogue(dSums.View, dAcc.View, dTaps.View, dOut.View, new QuantConvDims(h, w, cin, cout), new QuantZeroPoints(za, zw, scale));
            k.Synchronize();
            Assert.Equal(expected, dOut.GetAsArray1D());
        }
    }

    /// <summary>The epilogue with BN affine, PReLU and the residual add fused gives the floats of
    /// the separate kernels, bit for bit, on a batch of two with per-sample zero points.</summary>
    [Theory]
    [MemberData(nameof(Accelerators.Available), MemberType = typeof(Accelerators))]
    public void FusedEpilogueStepsMatchTheSeparateKernels(string accelerator)
    {
        var k = Accelerators.Get(accelerator).Kernels;
        var a = k.Accelerator;
        const int h = 4, w = 5, c = 8, n = 2;
        var (codes, weights) = RandomConv(n * h, w, c, c, 77);
        var qw = new QuantConvWeights(weights, c, c);
        var rng = new Random(3);
        float[] Floats(int len) => Enumerable.Range(0, len).Select(_ => (float)(rng.NextDouble() * 4 - 2)).ToArray();
        var acc = Enumerable.Range(0, n * h * w * c).Select(_ => rng.Next(-40000, 40000)).ToArray();
        var bnA = Floats(c);
        var bnB = Floats(c);
        var residual = Floats(acc.Length);
        var dims = new QuantConvDims(h, w, c, c, n);
        var zeroPoints = new[] { new QuantZeroPoints(-120, -3, 0.0071f), new QuantZeroPoints(-90, -3, 0.0113f) };

        using var dCodes = a.Allocate1D(CodeSums(codes, n * h, w, c));
        using var dAcc = a.Allocate1D(acc);
        using var dTaps = a.Allocate1D(qw.TapSums);
        using var dZ = a.Allocate1D(zeroPoints);
        using var dA = a.Allocate1D(bnA);
        using var dB = a.Allocate1D(bnB);
        using var separate = a.Allocate1D<float>(acc.Length);
        using var fused = a.Allocate1D<float>(acc.Length);
        using var sepX = a.Allocate1D(residual);
        using var fusedX = a.Allocate1D(residual);

        // conv1 of a block: affine, PReLU
        k.QuantConvEpilogue(dCodes.View, dAcc.View, dTaps.View, separate.View, dims, zeroPoints[0], dZ.View);
        k.Affine(separate.View, dA.View, dB.View, c);
        k.PRelu(separate.View, 0.23f);
        k.QuantConvEpilogue(dCodes.View, dAcc.View, dTaps.View, fused.View, dims, zeroPoints[0], dZ.View, (dA.View, dB.View), 0.23f);
        k.Synchronize();
        var expected = separate.GetAsArray1D();
        Assert.Equal(expected, fused.GetAsArray1D());
        Assert.Contains(expected, v => v < 0);
        // and with the next conv's codes written in the same pass (4 channels per thread):
        // the same floats, and the codes the quantize kernel makes of them
        var q = Quantizer.Asymmetric(-200f, 400f, 4);
        var args = new QuantizerArgs(q.Lo, q.Hi, q.S, q.Zp, q.QLo, q.QHi);
        using var separateCodes = a.Allocate1D<int>(acc.Length / 4);
        using var fusedCodes = a.Allocate1D<int>(acc.Length / 4);
        using var codesOnlyOut = a.Allocate1D<float>(acc.Length);
        k.Quantize(separate.View, separateCodes.View, args);
        k.QuantConvEpilogue(dCodes.View, dAcc.View, dTaps.View, fused.View, dims, zeroPoints[0], dZ.View, (dA.View, dB.View), 0.23f,
            next: (fusedCodes.View, args));
        k.Synchronize();
        Assert.Equal(expected, fused.GetAsArray1D());
        var nextCodes = separateCodes.GetAsArray1D();
        Assert.Equal(nextCodes, fusedCodes.GetAsArray1D());
        Assert.True(MemoryMarshal.Cast<int, byte>(nextCodes).ToArray().Distinct().Count() > 8, "the test codes must span the 4-bit range");
        fusedCodes.MemSetToZero();
        codesOnlyOut.MemSetToZero();
        k.QuantConvEpilogue(dCodes.View, dAcc.View, dTaps.View, codesOnlyOut.View, dims, zeroPoints[0], dZ.View, (dA.View, dB.View), 0.23f,
            next: (fusedCodes.View, args), codesOnly: true);
        k.Synchronize();
        Assert.Equal(nextCodes, fusedCodes.GetAsArray1D());
        Assert.All(codesOnlyOut.GetAsArray1D(), v => Assert.Equal(0f, v));
        // conv2: affine, then added to the block input
        k.QuantConvEpilogue(dCodes.View, dAcc.View, dTaps.View, separate.View, dims, zeroPoints[0], dZ.View);
        k.Affine(separate.View, dA.View, dB.View, c);
        k.Add(sepX.View, separate.View);
        k.QuantConvEpilogue(dCodes.View, dAcc.View, dTaps.View, fusedX.View, dims, zeroPoints[0], dZ.View, (dA.View, dB.View), accumulate: true);
        k.Synchronize();
        Assert.Equal(sepX.GetAsArray1D(), fusedX.GetAsArray1D());
        Assert.NotEqual(residual, fusedX.GetAsArray1D());
    }

    [Theory]
    [MemberData(nameof(Accelerators.Available), MemberType = typeof(Accelerators))]
    public void ActivationCodesAreIdentical(string accelerator)
    {
        var k = Accelerators.Get(accelerator).Kernels;
        var a = k.Accelerator;
        var rng = new Random(5);
        foreach (var q in new[] { Quantizer.Asymmetric(-2.3f, 2.9f, 8), Quantizer.Asymmetric(-0.7f, 3.1f, 4), Quantizer.Symmetric(2.5f, 8), Quantizer.Symmetric(1.3f, 2) })
        {
            var x = new List<float> { float.NaN, float.PositiveInfinity, float.NegativeInfinity, 0f, -0f, q.Lo, q.Hi, q.Lo - 1, q.Hi + 1 };
            // exact halves of the code grid: round half to even decides them
            for (int c = q.QLo; c < q.QHi; c++) x.Add((c + 0.5f + q.Zp) / q.S);
            while (x.Count % 4 != 0 || x.Count < 400) x.Add((float)(rng.NextDouble() * 8 - 4));
            var expected = x.Select(q.UnsignedCode).ToArray();
            using var dx = a.Allocate1D(x.ToArray());
            using var dCodes = a.Allocate1D<int>(x.Count / 4);
            k.Quantize(dx.View, dCodes.View, new QuantizerArgs(q.Lo, q.Hi, q.S, q.Zp, q.QLo, q.QHi));
            k.Synchronize();
            Assert.Equal(expected, MemoryMarshal.AsBytes(dCodes.GetAsArray1D().AsSpan()).ToArray());
        }
    }

    [Theory]
    [MemberData(nameof(Accelerators.Available), MemberType = typeof(Accelerators))]
    public void GateChannelMeansAreIdentical(string accelerator)
    {
        var k = Accelerators.Get(accelerator).Kernels;
        var rng = new Random(9);
        const int pixels = 37, channels = 12;
        var x = Enumerable.Range(0, pixels * channels).Select(_ => (float)(rng.NextDouble() * 20 - 7)).ToArray();
        using var dx = k.Accelerator.Allocate1D(x);
        using var dm = k.Accelerator.Allocate1D<float>(channels);
        k.ChannelMeans(dx.View, dm.View, pixels, channels);
        k.Synchronize();
        Assert.Equal(DynamicGate.ChannelMeans(x, channels), dm.GetAsArray1D());
    }

    [Theory]
    [MemberData(nameof(Accelerators.Available), MemberType = typeof(Accelerators))]
    public void FloatConvsMatchTheCpuKernels(string accelerator)
    {
        var k = Accelerators.Get(accelerator).Kernels;
        var a = k.Accelerator;
        // head-like 9x9 3→64, ResBlock-like 3x3 16→16, tail-like 9x9 16→3 and 40→3 (chunks of 16
        // input channels, the last one partial), up-like 3x3 16→64 and 64→20 (a partial channel block)
        foreach (var (h, w, cin, cout, kernel) in new[] { (6, 5, 3, 64, 9), (4, 7, 16, 16, 3), (5, 6, 16, 3, 9), (9, 6, 40, 3, 9), (3, 5, 16, 64, 3), (5, 9, 64, 20, 3) })
        {
            var rng = new Random(cin * cout + kernel);
            var input = Enumerable.Range(0, h * w * cin).Select(_ => (float)(rng.NextDouble() * 255)).ToArray();
            var second = Enumerable.Range(0, h * w * cin).Select(_ => (float)(rng.NextDouble() * 255)).ToArray();
            var weights = Enumerable.Range(0, cout * cin * kernel * kernel).Select(_ => (float)(rng.NextDouble() - 0.5) * 0.05f).ToArray();
            // direct: the device's summation order (the CPU's Winograd path rounds differently)
            var packed = new FloatConvWeights(weights, cout, cin, kernel, FloatConvWeights.Algorithm.Direct);
            var cpu = new float[h * w * cout];
            FloatConv2d.Run(input, packed, cpu, h, w, 1);
            using var dIn = a.Allocate1D(input);
            using var dW = a.Allocate1D(weights);
            using var dOut = a.Allocate1D<float>(cpu.Length);
            var order = packed.Scheme == FloatConvWeights.Layout.TapInOut ? FloatConvOrder.TapMajor : FloatConvOrder.ChannelMajor;
            var dims = new FloatConvDims(h, w, cin, cout, kernel, order);
            k.FloatConv(dIn.View, dW.View, dOut.View, dims, ConvVariant.Naive);
            k.Synchronize();
            var gpu = dOut.GetAsArray1D();
            // the tiled kernel chains the same FMAs in the same order: the same floats
            k.FloatConv(dIn.View, dW.View, dOut.View, dims, ConvVariant.Tiled);
            k.Synchronize();
            Assert.Equal(gpu, dOut.GetAsArray1D());
            // in a batch of two, each sample is padded on its own: the first is the single run
            var secondCpu = new float[cpu.Length];
            FloatConv2d.Run(second, packed, secondCpu, h, w, 1);
            using var dBatch = a.Allocate1D([.. input, .. second]);
            using var dBatchOut = a.Allocate1D<float>(2 * cpu.Length);
            var batch = new FloatConvDims(h, w, cin, cout, kernel, order, 2);
            foreach (var variant in new[] { ConvVariant.Naive, ConvVariant.Tiled })
            {
                k.FloatConv(dBatch.View, dW.View, dBatchOut.View, batch, variant);
                k.Synchronize();
                var both = dBatchOut.GetAsArray1D();
                Assert.Equal(gpu, both[..cpu.Length]);
                if (CpuFmaOrder) Assert.Equal(secondCpu, both[cpu.Length..]);
            }
            if (CpuFmaOrder) Assert.Equal(cpu, gpu);
            else
                for (int i = 0; i < cpu.Length; i++) Assert.True(Math.Abs(cpu[i] - gpu[i]) <= 1e-4f * (1 + Math.Abs(cpu[i])), $"{h}x{w} {cin}->{cout} k{kernel} at {i}: {cpu[i]} vs {gpu[i]}");
        }
    }

    [Theory]
    [MemberData(nameof(Accelerators.Available), MemberType = typeof(Accelerators))]
    public void PixelShuffleIsIdentical(string accelerator)
    {
        var k = Accelerators.Get(accelerator).Kernels;
        const int h = 3, w = 5, c = 16;
        var input = Enumerable.Range(0, h * w * c).Select(i => (float)i).ToArray();
        var expected = new float[input.Length];
        PixelShuffle.Run(input, h, w, c, 2, expected);
        using var dIn = k.Accelerator.Allocate1D(input);
        using var dOut = k.Accelerator.Allocate1D<float>(input.Length);
        k.PixelShuffle(dIn.View, dOut.View, h, w, c, 2);
        k.Synchronize();
        Assert.Equal(expected, dOut.GetAsArray1D());
    }

    [Theory]
    [MemberData(nameof(Accelerators.Available), MemberType = typeof(Accelerators))]
    public void BnPReluAndSkipAddAreIdentical(string accelerator)
    {
        var k = Accelerators.Get(accelerator).Kernels;
        var a = k.Accelerator;
        var rng = new Random(2);
        const int c = 8, n = c * 30;
        float[] R(int len, double scale) => Enumerable.Range(0, len).Select(_ => (float)((rng.NextDouble() - 0.5) * scale)).ToArray();
        var x = R(n, 10); var skip = R(n, 10);
        var bn = new Affine(R(c, 2), R(c, 1), R(c, 1), R(c, 1).Select(v => Math.Abs(v) + 0.5f).ToArray());
        var expected = (float[])x.Clone();
        bn.Apply(expected);
        Elementwise.PRelu(expected, 0.173f);
        Elementwise.Add(expected, skip);
        using var dx = a.Allocate1D(x);
        using var dA = a.Allocate1D(bn.A);
        using var dB = a.Allocate1D(bn.B);
        using var dSkip = a.Allocate1D(skip);
        k.Affine(dx.View, dA.View, dB.View, c);
        k.PRelu(dx.View, 0.173f);
        k.Add(dx.View, dSkip.View);
        k.Synchronize();
        Assert.Equal(expected, dx.GetAsArray1D());
    }
}
