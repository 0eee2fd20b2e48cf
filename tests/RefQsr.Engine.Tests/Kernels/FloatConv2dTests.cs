using RefQsr.Kernels;

namespace RefQsr.Engine.Tests.Kernels;

public class FloatConv2dTests
{
    static float[] Random(int n, int seed, float scale = 1f)
    {
        var r = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => (float)(r.NextDouble() * 2 - 1) * scale).ToArray();
    }

    // Sizes cover both packing schemes (out channels a multiple of 32 or not), odd image
    // sizes, 1-px images, and the head/tail/upsampler shapes of SRResNet.
    [Theory]
    [InlineData(7, 5, 3, 64, 9)]
    [InlineData(6, 9, 64, 3, 9)]
    [InlineData(5, 37, 64, 3, 9)]   // tail: two full 16-pixel blocks (the vector transpose to CHW) and a partial one
    [InlineData(4, 33, 20, 3, 9)]   // 16 channels transposed, 4 by the scalar loop
    [InlineData(5, 4, 64, 256, 3)]
    [InlineData(1, 1, 64, 64, 3)]
    [InlineData(3, 11, 17, 32, 3)]
    [InlineData(4, 3, 9, 5, 1)]
    public void MatchesReference(int h, int w, int cin, int cout, int k)
    {
        var s = new ConvShape(h, w, cin, cout, k);
        var input = Random(s.InputLength, 1, 100f);
        var weights = Random(s.WeightLength, 2, 0.05f);
        var expected = new float[s.OutputLength];
        FloatConv2d.Reference(input, weights, expected, s);
        foreach (int threads in new[] { 1, 2, 3 })
        {
            var actual = new float[s.OutputLength];
            FloatConv2d.Run(input, new FloatConvWeights(weights, cout, cin, k), actual, h, w, threads);
            AssertClose(expected, actual, $"{h}x{w} {cin}->{cout} k{k}");
        }
    }

    /// <summary>Float sums in another order. The direct sum's error is bounded by taps·cin·eps
    /// of the value; Winograd's transforms mix the tile's inputs (scaled by up to 5) and weights
    /// (by 1/24 to 1) before the products, so its error scales with the size of the outputs
    /// around a value rather than with the value itself: 2e-5 of the largest output allowed
    /// on top (measured here: at most 4e-6 of it).</summary>
    static void AssertClose(float[] expected, float[] actual, string what)
    {
        float scale = expected.Max(Math.Abs);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-4f * (1 + Math.Abs(expected[i])) + 2e-5f * scale,
                $"{what} at {i}: {expected[i]} vs {actual[i]} (largest output {scale})");
    }

    [Fact]
    public void OutputIsIdenticalForAnyThreadCount()
    {
        int h = 13, w = 10, cin = 64, cout = 64;
        var input = Random(h * w * cin, 3, 10f);
        var wt = new FloatConvWeights(Random(cout * cin * 9, 4, 0.1f), cout, cin, 3);
        var one = new float[h * w * cout];
        FloatConv2d.Run(input, wt, one, h, w, 1);
        for (int t = 2; t <= 5; t++)
        {
            var many = new float[one.Length];
            FloatConv2d.Run(input, wt, many, h, w, t);
            Assert.Equal(one, many);
        }
    }

    // The Winograd F(4x4, 3x3) path against the scalar truth: sizes not a multiple of 4 (tiles
    // hanging over the image), rows of more than one 16-tile chunk, tile counts not a multiple of four,
    // 16- and 64-channel inputs, one to four 64-channel output blocks.
    [Theory]
    [InlineData(1, 1, 16, 64)]
    [InlineData(1, 7, 64, 64)]
    [InlineData(6, 1, 64, 64)]
    [InlineData(5, 9, 16, 128)]
    [InlineData(8, 71, 64, 64)]
    [InlineData(3, 4, 64, 256)]
    public void WinogradMatchesReference(int h, int w, int cin, int cout)
        => AssertAlgorithmMatchesReference(new ConvShape(h, w, cin, cout, 3), seed: 5, wt => wt.UsesWinograd, WinogradHere);

    /// <summary>The Vector256 Winograd (CPUs with AVX2 and FMA, no AVX-512) is the Vector512
    /// one's operations in the same order: the same bits, checked where both can run.</summary>
    [Theory]
    [InlineData(5, 9, 64, 64)]
    [InlineData(8, 71, 64, 256)]
    [InlineData(1, 1, 16, 64)]
    public void WinogradVector256GivesTheVector512Bits(int h, int w, int cin, int cout)
    {
        if (!System.Runtime.Intrinsics.X86.Avx2.IsSupported || !System.Runtime.Intrinsics.X86.Fma.IsSupported) return;
        var s = new ConvShape(h, w, cin, cout, 3);
        var input = Random(s.InputLength, 21, 100f);
        var wt = new FloatConvWeights(Random(s.WeightLength, 22, 0.05f), cout, cin, 3);
        var narrow = new float[s.OutputLength];
        FloatConv2d.RunWinogradVector256(input, wt, narrow, h, w, 2);
        var expected = new float[s.OutputLength];
        FloatConv2d.Reference(input, Random(s.WeightLength, 22, 0.05f), expected, s);
        AssertClose(expected, narrow, $"{h}x{w} {cin}->{cout} Vector256 Winograd");
        var auto = new float[s.OutputLength];
        FloatConv2d.Run(input, wt, auto, h, w, 1);   // Vector512 where AVX-512 is
        Assert.Equal(auto, narrow);
    }

    /// <summary>The Vector128 Winograd (CPUs without AVX2 and FMA: ARM64, older x64) repeats
    /// the wider paths' operations in order: the same bits as whichever path this CPU takes.</summary>
    [Theory]
    [InlineData(5, 9, 64, 64)]
    [InlineData(8, 71, 64, 256)]
    [InlineData(1, 1, 16, 64)]
    public void WinogradVector128GivesTheWiderPathsBits(int h, int w, int cin, int cout)
    {
        var s = new ConvShape(h, w, cin, cout, 3);
        var input = Random(s.InputLength, 23, 100f);
        var wt = new FloatConvWeights(Random(s.WeightLength, 24, 0.05f), cout, cin, 3);
        if (!wt.UsesWinograd) return;
        var narrow = new float[s.OutputLength];
        FloatConv2d.RunWinogradVector128(input, wt, narrow, h, w, 2);
        var expected = new float[s.OutputLength];
        FloatConv2d.Reference(input, Random(s.WeightLength, 24, 0.05f), expected, s);
        AssertClose(expected, narrow, $"{h}x{w} {cin}->{cout} Vector128 Winograd");
        var auto = new float[s.OutputLength];
        FloatConv2d.Run(input, wt, auto, h, w, 1);
        Assert.Equal(auto, narrow);
    }

    /// <summary>The RGB tail's direct CHW kernel in Vector128 registers (what CPUs without AVX2
    /// and FMA take) against the scalar truth, and, where AVX2 and FMA run its Vector256 form,
    /// bit for bit against that: both sum each output in the (ci, ky, kx) order.</summary>
    [Theory]
    [InlineData(9, 37, 64, 9)]
    [InlineData(5, 6, 7, 9)]
    [InlineData(3, 11, 16, 5)]
    public void RgbDirectVector128GivesTheVector256Bits(int h, int w, int cin, int k)
    {
        var s = new ConvShape(h, w, cin, 3, k);
        var input = Random(s.InputLength, 25, 100f);
        var weights = Random(s.WeightLength, 26, 0.05f);
        var wt = new FloatConvWeights(weights, 3, cin, k, FloatConvWeights.Algorithm.Direct);
        var narrow = new float[s.OutputLength];
        FloatConv2d.RunRgbVector128(input, wt, narrow, h, w, 2);
        var expected = new float[s.OutputLength];
        FloatConv2d.Reference(input, weights, expected, s);
        AssertClose(expected, narrow, $"{h}x{w} {cin}->3 k{k} Vector128 RGB");
        if (System.Runtime.Intrinsics.X86.Avx512F.IsSupported || !Vector256FmaOrWider) return;   // AVX-512 runs its own kernel
        var wide = new float[s.OutputLength];
        FloatConv2d.Run(input, wt, wide, h, w, 1);
        Assert.Equal(wide, narrow);
    }

    /// <summary>The direct broadcast kernel (the 9x9 head; 3x3 convs made with
    /// Algorithm.Direct) in Vector128 registers gives the bits of whichever kernel this CPU
    /// runs (Vector512 or Vector256): every output is the same FMA chain over (ky, kx, ci).</summary>
    [Theory]
    [InlineData(7, 9, 3, 64, 9)]
    [InlineData(5, 6, 64, 64, 3)]
    [InlineData(2, 3, 16, 128, 3)]
    public void DirectVector128GivesThisCpusBits(int h, int w, int cin, int cout, int k)
    {
        var s = new ConvShape(h, w, cin, cout, k);
        var input = Random(s.InputLength, 27, 100f);
        var weights = Random(s.WeightLength, 28, 0.05f);
        var wt = new FloatConvWeights(weights, cout, cin, k, FloatConvWeights.Algorithm.Direct);
        var narrow = new float[s.OutputLength];
        FloatConv2d.RunDirectVector128(input, wt, narrow, h, w, 2);
        var expected = new float[s.OutputLength];
        FloatConv2d.Reference(input, weights, expected, s);
        AssertClose(expected, narrow, $"{h}x{w} {cin}->{cout} k{k} Vector128 direct");
        var auto = new float[s.OutputLength];
        FloatConv2d.Run(input, wt, auto, h, w, 1);
        Assert.Equal(auto, narrow);
    }

    /// <summary>The conv with these weights against the scalar truth on one thread (where
    /// <paramref name="usesAlgorithm"/> holds exactly where <paramref name="expectedUse"/>: the
    /// 3x3 Winograd and the RGB row Winograd on AVX-512 and on AVX2 with FMA), and the
    /// same bits on two and three.</summary>
    static void AssertAlgorithmMatchesReference(ConvShape s, int seed, Func<FloatConvWeights, bool> usesAlgorithm, bool expectedUse)
    {
        var input = Random(s.InputLength, seed, 100f);
        var weights = Random(s.WeightLength, seed + 1, 0.05f);
        var expected = new float[s.OutputLength];
        FloatConv2d.Reference(input, weights, expected, s);
        var wt = new FloatConvWeights(weights, s.OutChannels, s.InChannels, s.Kernel);
        Assert.Equal(expectedUse, usesAlgorithm(wt));
        var one = new float[s.OutputLength];
        FloatConv2d.Run(input, wt, one, s.Height, s.Width, 1);
        AssertClose(expected, one, $"{s.Height}x{s.Width} {s.InChannels}->{s.OutChannels} k{s.Kernel}");
        foreach (int threads in new[] { 2, 3 })
        {
            var many = new float[s.OutputLength];
            FloatConv2d.Run(input, wt, many, s.Height, s.Width, threads);
            Assert.Equal(one, many);
        }
    }

    // The RGB tail's row Winograd F(3, 3) (k a multiple of 3) against the scalar truth: one
    // pixel, widths of every remainder mod 3, exactly one and just over one 16-tile group,
    // heights not a multiple of the eight rows per pass, few and odd input channels, k = 3, 9, 15.
    [Theory]
    [InlineData(1, 1, 64, 9)]
    [InlineData(9, 2, 64, 9)]
    [InlineData(8, 48, 64, 9)]
    [InlineData(17, 49, 64, 9)]
    [InlineData(10, 97, 7, 9)]
    [InlineData(11, 50, 64, 3)]
    [InlineData(5, 100, 5, 15)]
    public void RgbRowWinogradMatchesReference(int h, int w, int cin, int k)
        => AssertAlgorithmMatchesReference(new ConvShape(h, w, cin, 3, k), seed: 11, wt => wt.UsesRgbWinograd, WinogradHere);

    static bool Vector256FmaOrWider => System.Runtime.Intrinsics.X86.Avx512F.IsSupported
        || (System.Runtime.Intrinsics.X86.Avx2.IsSupported && System.Runtime.Intrinsics.X86.Fma.IsSupported);

    /// <summary>Where the FP32 Winograd kernels run: AVX-512, AVX2 with FMA, or hardware Vector128.</summary>
    static bool WinogradHere => Vector256FmaOrWider || System.Runtime.Intrinsics.Vector128.IsHardwareAccelerated;

    /// <summary>The row Winograd's bits are those of <see cref="RgbRowWinogradScalar"/> on the
    /// Vector512 path (AVX-512) and on the Vector256 one (AVX2 with FMA): the two agree.
    /// Widths cover chunks of 32 tiles and their edges (95, 96, 97 and 98 pixels).</summary>
    [Theory]
    [InlineData(9, 2, 64, 9)]
    [InlineData(17, 95, 16, 9)]
    [InlineData(8, 96, 8, 9)]
    [InlineData(3, 97, 8, 9)]
    [InlineData(12, 98, 8, 9)]
    [InlineData(11, 50, 7, 3)]
    [InlineData(5, 100, 5, 15)]
    public void RgbRowWinogradGivesTheScalarWinogradBits(int h, int w, int cin, int k)
    {
        var s = new ConvShape(h, w, cin, 3, k);
        var input = Random(s.InputLength, 31, 100f);
        var weights = Random(s.WeightLength, 32, 0.05f);
        var wt = new FloatConvWeights(weights, 3, cin, k);
        Assert.Equal(WinogradHere, wt.UsesRgbWinograd);
        if (!wt.UsesRgbWinograd) return;
        var expected = RgbRowWinogradScalar.Run(input, weights, h, w, cin, k);
        foreach (int threads in new[] { 1, 2 })
            foreach (bool vector128 in new[] { false, true })   // this CPU's kernel, and the Vector128 one
            {
                var actual = new float[s.OutputLength];
                if (vector128) FloatConv2d.RunRgbVector128(input, wt, actual, h, w, threads);
                else FloatConv2d.Run(input, wt, actual, h, w, threads);
                for (int i = 0; i < expected.Length; i++)
                    Assert.True(BitConverter.SingleToInt32Bits(expected[i]) == BitConverter.SingleToInt32Bits(actual[i]),
                        $"{h}x{w} {cin}->3 k{k}, {threads} thread(s){(vector128 ? ", Vector128" : "")}, at {i}: {actual[i]} vs the scalar Winograd's {expected[i]}");
            }
    }

    [Fact]
    public void RgbRowWinogradTakesOnlyThreeOutputsAndKernelsAMultipleOfThree()
    {
        Assert.False(new FloatConvWeights(Random(3 * 64 * 81, 13), 3, 64, 9, FloatConvWeights.Algorithm.Direct).UsesRgbWinograd);
        Assert.False(new FloatConvWeights(Random(4 * 64 * 81, 14), 4, 64, 9).UsesRgbWinograd);
        Assert.False(new FloatConvWeights(Random(3 * 64 * 49, 15), 3, 64, 7).UsesRgbWinograd);
        Assert.False(new FloatConvWeights(Random(3 * 64 * 17 * 17, 16), 3, 64, 17).UsesRgbWinograd);
    }

    [Fact]
    public void DirectAlgorithmIsNeverWinograd()
    {
        var wt = new FloatConvWeights(Random(64 * 64 * 9, 7), 64, 64, 3, FloatConvWeights.Algorithm.Direct);
        Assert.False(wt.UsesWinograd);
        Assert.False(new FloatConvWeights(Random(64 * 3 * 81, 8), 64, 3, 9).UsesWinograd);   // 9x9 head
        Assert.False(new FloatConvWeights(Random(32 * 64 * 9, 9), 32, 64, 3).UsesWinograd);  // 32 out channels
    }

    [Fact]
    public void RejectsShortBuffers()
    {
        var wt = new FloatConvWeights(new float[64 * 3 * 81], 64, 3, 9);
        Assert.Throws<ArgumentException>(() => FloatConv2d.Run(new float[10], wt, new float[4 * 4 * 64], 4, 4, 1));
        Assert.Throws<ArgumentException>(() => new FloatConvWeights(new float[5], 64, 3, 9));
    }

    [Fact]
    public void PixelShuffleMatchesPyTorchChannelOrder()
    {
        // 1x1 input with 8 channels = 2 output channels x (2x2) sub-pixels
        var input = Enumerable.Range(0, 8).Select(i => (float)i).ToArray();
        var output = new float[8];
        PixelShuffle.Run(input, 1, 1, 8, 2, output);
        // output HWC 2x2x2: channel c at (i, j) = input[c*4 + i*2 + j]
        Assert.Equal(new float[] { 0, 4, 1, 5, 2, 6, 3, 7 }, output);
    }
}
