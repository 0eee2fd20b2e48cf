using RefQsr.Kernels;

namespace RefQsr.Engine.Tests.Kernels;

/// <summary>The fused last upsampler step and tail against the two passes it replaces.</summary>
public class UpsampleTailTests
{
    // heights that are and are not a multiple of 4 (a short last tile row), one tile row,
    // more bands than tile rows, widths that are not a multiple of 8 (a short last vector)
    [Theory]
    [InlineData(1, 1, 9)]
    [InlineData(3, 5, 9)]
    [InlineData(4, 4, 9)]
    [InlineData(5, 7, 9)]
    [InlineData(17, 10, 9)]
    [InlineData(12, 9, 3)]
    [InlineData(13, 6, 17)]   // half kernel 8: the tail reads the whole slot above and below
    [InlineData(6, 24, 9)]    // 48 HR columns: exactly one 16-tile row-Winograd group
    [InlineData(9, 29, 9)]    // 58: a second, partial group whose windows run past the row
    public void FusedUpsamplerAndTailEqualTheSeparatePassesBitForBit(int h, int w, int k)
    {
        const int c = 64;
        const float slope = 0.23f;
        var r = new Random(h * 100 + w * 10 + k);
        var x = Enumerable.Range(0, h * w * c).Select(_ => (float)(r.NextDouble() * 4 - 2)).ToArray();
        var up = Enumerable.Range(0, 4 * c * c * 9).Select(_ => (float)(r.NextDouble() - 0.5) * 0.1f).ToArray();
        var tailOihw = Enumerable.Range(0, 3 * c * k * k).Select(_ => (float)(r.NextDouble() - 0.5) * 0.05f).ToArray();
        var fused = new FloatConvWeights(PixelShuffle.SubPixelOrder(up, 4 * c, 2), 4 * c, c, 3);
        var tail = new FloatConvWeights(tailOihw, 3, c, k);
        // AVX-512, AVX2 with FMA (the Vector256 Winograd and RGB kernels), or hardware Vector128 (theirs)
        Assert.Equal(System.Runtime.Intrinsics.X86.Avx512F.IsSupported
            || (System.Runtime.Intrinsics.X86.Avx2.IsSupported && System.Runtime.Intrinsics.X86.Fma.IsSupported)
            || System.Runtime.Intrinsics.Vector128.IsHardwareAccelerated, FloatConv2d.SubPixel2ThenRgbSupported(fused, tail));
        if (!FloatConv2d.SubPixel2ThenRgbSupported(fused, tail)) return;

        var feature = new float[4 * h * w * c];
        FloatConv2d.RunSubPixel2(x, fused, feature, h, w, slope, 1);
        var expected = new float[4 * h * w * 3];
        FloatConv2d.Run(feature, tail, expected, 2 * h, 2 * w, 1);
        // and the two passes are the conv they stand for: the tail against its scalar truth
        var truth = new float[expected.Length];
        FloatConv2d.Reference(feature, tailOihw, truth, new ConvShape(2 * h, 2 * w, c, 3, k));
        for (int i = 0; i < truth.Length; i++) Assert.True(Math.Abs(truth[i] - expected[i]) < 1e-3f, $"tail {i}: {expected[i]} vs {truth[i]}");

        foreach (int threads in new[] { 1, 2, 3, 5 })
        {
            var actual = new float[expected.Length];
            Array.Fill(actual, float.NaN);
            FloatConv2d.RunSubPixel2ThenRgb(x, fused, slope, tail, actual, h, w, threads);
            Assert.Equal(expected, actual);
        }
    }

    [Fact]
    public void RejectsWhatItCannotFuseAndShortBuffers()
    {
        if (!System.Runtime.Intrinsics.X86.Avx512F.IsSupported) return;
        const int c = 64;
        var fused = new FloatConvWeights(new float[4 * c * c * 9], 4 * c, c, 3);
        var fourOut = new FloatConvWeights(new float[4 * c * 81], 4, c, 9);
        var wide = new FloatConvWeights(new float[3 * c * 19 * 19], 3, c, 19);   // half kernel 9 > a slot
        var tail = new FloatConvWeights(new float[3 * c * 81], 3, c, 9);
        Assert.False(FloatConv2d.SubPixel2ThenRgbSupported(fused, fourOut));
        Assert.False(FloatConv2d.SubPixel2ThenRgbSupported(fused, wide));
        Assert.Throws<NotSupportedException>(() => FloatConv2d.RunSubPixel2ThenRgb(new float[4 * 4 * c], fused, 0.1f, wide, new float[64 * 3], 4, 4, 1));
        Assert.Throws<ArgumentException>(() => FloatConv2d.RunSubPixel2ThenRgb(new float[4 * 4 * c], fused, 0.1f, tail, new float[64 * 3 - 1], 4, 4, 1));
        Assert.Throws<ArgumentException>(() => FloatConv2d.RunSubPixel2ThenRgb(new float[4 * 4 * c - 1], fused, 0.1f, tail, new float[64 * 3], 4, 4, 1));
        Assert.Throws<ArgumentException>(() => FloatConv2d.RunSubPixel2ThenRgb(new float[0], fused, 0.1f, tail, new float[0], 0, 4, 1));
    }
}
