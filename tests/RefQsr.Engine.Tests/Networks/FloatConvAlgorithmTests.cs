using System.Runtime.Intrinsics.X86;
using RefQsr.Engine.Networks;
using RefQsr.Engine.Weights;
using RefQsr.Kernels;

namespace RefQsr.Engine.Tests.Networks;

/// <summary>The default FP32 convs (Winograd F(4x4, 3x3) on AVX-512) against the direct sums,
/// on whole networks: every activation code identical (the only FP32 conv before a quantizer
/// is the 9x9 head, which is always direct), the HR within float rounding.</summary>
public class FloatConvAlgorithmTests
{
    [Theory]
    [InlineData(QuantizerKind.None, 32)]
    [InlineData(QuantizerKind.Ddtb, 8)]
    [InlineData(QuantizerKind.Pams, 4)]
    public void WinogradNetworkMatchesTheDirectOne(QuantizerKind q, int bits)
    {
        const int h = 11, w = 14;
        var bytes = TestModels.Bytes(TestModels.Config(q, bits, blocks: 2), seed: 11);
        var auto = SrResNet.Load(ModelFile.Parse(bytes));
        var direct = SrResNet.Load(ModelFile.Parse(bytes), FloatConvWeights.Algorithm.Direct);
        Assert.Equal(FloatConvWeights.Algorithm.Auto, auto.FloatConvs);
        var lr = TestModels.Image(h, w);
        var autoTrace = new ForwardTrace();
        var directTrace = new ForwardTrace();
        var a = auto.Forward(lr, h, w, 2, autoTrace);
        var d = direct.Forward(lr, h, w, 2, directTrace);

        Assert.Equal(directTrace.Codes.Keys.Order(), autoTrace.Codes.Keys.Order());
        foreach (var (name, codes) in directTrace.Codes) Assert.Equal(codes, autoTrace.Codes[name]);
        Assert.Equal(d.Length, a.Length);
        double maxDiff = 0;
        for (int i = 0; i < d.Length; i++) maxDiff = Math.Max(maxDiff, Math.Abs(d[i] - a[i]));
        // 0..255 HR values: a few ulps of the intermediate features, far below one grey level
        Assert.True(maxDiff <= 0.01, $"HR differs by up to {maxDiff}");
        // where Winograd runs, it really is another computation
        // (the 3x3 Winograd runs with AVX-512, AVX2 and FMA, or hardware Vector128)
        if (Avx512F.IsSupported || (System.Runtime.Intrinsics.X86.Avx2.IsSupported && System.Runtime.Intrinsics.X86.Fma.IsSupported)
            || System.Runtime.Intrinsics.Vector128.IsHardwareAccelerated) Assert.NotEqual(d, a);
        else Assert.Equal(d, a);
    }

    [Fact]
    public void UnknownAlgorithmIsRejected()
    {
        var f = TestModels.File(TestModels.Config(blocks: 1));
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => SrResNet.Load(f, (FloatConvWeights.Algorithm)7));
        Assert.Contains("FP32 conv algorithm", e.Message);
    }
}
