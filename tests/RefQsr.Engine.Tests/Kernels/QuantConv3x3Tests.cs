using RefQsr.Kernels;

namespace RefQsr.Engine.Tests.Kernels;

public class QuantConv3x3Tests
{
    static (byte[] Codes, sbyte[] Weights) Data(int h, int w, int cin, int cout, int aBits, int wBits, int seed)
    {
        var r = new Random(seed);
        var codes = new byte[h * w * cin];
        for (int i = 0; i < codes.Length; i++) codes[i] = (byte)r.Next(0, 1 << aBits);
        var weights = new sbyte[cout * cin * 9];
        for (int i = 0; i < weights.Length; i++) weights[i] = (sbyte)r.Next(-(1 << (wBits - 1)), 1 << (wBits - 1));
        return (codes, weights);
    }

    public static TheoryData<int, int> Bits()
    {
        var d = new TheoryData<int, int>();
        for (int b = 2; b <= 8; b++) d.Add(b, b);
        d.Add(4, 6); d.Add(3, 6); d.Add(5, 6); d.Add(2, 3);
        return d;
    }

    /// <summary>Every SIMD path this CPU can run (the others are tested where they can be).</summary>
    internal static IEnumerable<QuantConvPath> SupportedPaths()
    {
        if (System.Runtime.Intrinsics.Vector128.IsHardwareAccelerated) yield return QuantConvPath.Portable;
        if (System.Runtime.Intrinsics.Vector128.IsHardwareAccelerated) yield return QuantConvPath.PortableWinograd2x4;
        if (System.Runtime.Intrinsics.X86.Avx2.IsSupported) yield return QuantConvPath.Avx2;
        if (System.Runtime.Intrinsics.X86.Avx2.IsSupported) yield return QuantConvPath.Avx2Pairs;
        if (System.Runtime.Intrinsics.X86.Avx2.IsSupported) yield return QuantConvPath.Avx2Winograd2x4;
        if (System.Runtime.Intrinsics.X86.AvxVnni.IsSupported) yield return QuantConvPath.AvxVnni;
        if (System.Runtime.Intrinsics.X86.Avx512BW.IsSupported) yield return QuantConvPath.Avx512Pairs;
        if (System.Runtime.Intrinsics.X86.Avx512BW.IsSupported) yield return QuantConvPath.Avx512Winograd;
        if (System.Runtime.Intrinsics.X86.Avx512BW.IsSupported) yield return QuantConvPath.Avx512Winograd2x4;
    }

    /// <summary>The F(4x4) path runs where its transformed weights fit int16 and 576·conv fits
    /// int32 for these codes (tested separately at its bounds).</summary>
    static bool Winograd4x4Usable(byte[] codes, QuantConvWeights qw)
        => System.Runtime.Intrinsics.X86.Avx512BW.IsSupported && qw.Winograd4x4 is { } u && u.Exact(codes.Max());

    /// <summary>The int16 path runs only where its step bound allows (tested separately).</summary>
    static bool Int16Usable(byte[] codes, sbyte[] weights)
        => System.Runtime.Intrinsics.X86.Avx512BW.IsSupported
           && QuantConv3x3.Int16Steps(codes.Max(), weights.Max(v => Math.Abs((int)v))) >= 1;

    /// <summary>Its Vector256 twin, under the same bound, wherever AVX2 is.</summary>
    static bool Avx2Int16Usable(byte[] codes, sbyte[] weights)
        => System.Runtime.Intrinsics.X86.Avx2.IsSupported
           && QuantConv3x3.Int16Steps(codes.Max(), weights.Max(v => Math.Abs((int)v))) >= 1;

    /// <summary>The byte Winograd path runs where its transformed weights fit a byte and the
    /// codes allow at least one exact int16 step (tested separately at its bound).</summary>
    static bool ByteWinogradUsable(byte[] codes, QuantConvWeights qw)
        => System.Runtime.Intrinsics.X86.Avx512BW.IsSupported && qw.ByteWinograd is { } b
           && QuantConv3x3.ByteWinogradSteps(codes.Max(), b.MaxAbs, qw.InChannels) >= 1;

    /// <summary>The row Winograd path runs where its transformed weights fit a byte and the
    /// codes (up to 127) allow at least one exact int16 step (tested separately at its bound).</summary>
    static bool RowWinogradUsable(byte[] codes, QuantConvWeights qw)
        => System.Runtime.Intrinsics.X86.Avx512BW.IsSupported && codes.Max() <= 127 && qw.RowWinograd is { } r && r.Steps(codes.Max()) >= 1;

    /// <summary>Its VNNI twin has no step bound: transformed weights in a byte, codes up to 127.</summary>
    static bool VnniWinogradRowsUsable(byte[] codes, QuantConvWeights qw)
        => System.Runtime.Intrinsics.X86.AvxVnni.IsSupported && System.Runtime.Intrinsics.X86.Avx512F.IsSupported
           && codes.Max() <= 127 && qw.RowWinograd is not null;

    /// <summary>The 2-D byte Winograd transforms with VNNI products: codes up to 42, U' in a byte.</summary>
    static bool VnniWinogradUsable(byte[] codes, QuantConvWeights qw)
        => System.Runtime.Intrinsics.X86.AvxVnni.IsSupported && System.Runtime.Intrinsics.X86.Avx512BW.IsSupported
           && codes.Max() <= 42 && qw.ByteWinograd is not null;

    [Theory]
    [MemberData(nameof(Bits))]
    public void SimdMatchesReferenceAtEveryBitWidth(int aBits, int wBits)
    {
        foreach (var (h, w) in new[] { (1, 1), (2, 7), (9, 5), (13, 17) })
        {
            var s = new ConvShape(h, w, 64, 64, 3);
            var (codes, weights) = Data(h, w, 64, 64, aBits, wBits, h * 31 + w);
            var expected = new int[s.OutputLength];
            QuantConv3x3.Reference(codes, weights, expected, s);
            var qw = new QuantConvWeights(weights, 64, 64);
            var paths = SupportedPaths().ToList();
            if (Int16Usable(codes, weights)) paths.Add(QuantConvPath.Avx512Int16);
            if (Avx2Int16Usable(codes, weights)) paths.Add(QuantConvPath.Avx2Int16);
            if (System.Runtime.Intrinsics.X86.Avx2.IsSupported && qw.Winograd4x4 is { } u4 && u4.Exact(codes.Max())) paths.Add(QuantConvPath.Avx2Winograd4x4);
            if (System.Runtime.Intrinsics.Vector128.IsHardwareAccelerated && qw.Winograd4x4 is { } p4 && p4.Exact(codes.Max())) paths.Add(QuantConvPath.PortableWinograd4x4);
            if (ByteWinogradUsable(codes, qw)) paths.Add(QuantConvPath.Avx512WinogradBytes);
            if (RowWinogradUsable(codes, qw)) paths.Add(QuantConvPath.Avx512WinogradRowBytes);
            if (VnniWinogradRowsUsable(codes, qw)) paths.Add(QuantConvPath.AvxVnniWinogradRows);
            if (VnniWinogradUsable(codes, qw)) paths.Add(QuantConvPath.AvxVnniWinograd);
            if (Winograd4x4Usable(codes, qw)) paths.Add(QuantConvPath.Avx512Winograd4x4);
            Assert.True(wBits > 6 || !System.Runtime.Intrinsics.X86.Avx512BW.IsSupported || paths.Contains(QuantConvPath.Avx512Winograd4x4), "F(4x4) takes every weight up to 6 bits");
            foreach (var path in paths)
            {
                var actual = new int[s.OutputLength];
                QuantConv3x3.Run(codes, qw, actual, h, w, 2, path);
                Assert.True(expected.SequenceEqual(actual), $"{path} differs at {h}x{w}, a{aBits} w{wBits}");
            }
            // and the automatic choice
            var auto = new int[s.OutputLength];
            QuantConv3x3.Run(codes, qw, auto, h, w, 1);
            Assert.Equal(expected, auto);
        }
    }

    /// <summary>CPUs without AVX2 (the suite's DOTNET_EnableAVX2=0 pass, ARM64) take the
    /// Vector128 paths (the wide-tile Winograd for the SRResNet body, the direct one for
    /// ClustBlock), not the scalar reference.</summary>
    [Fact]
    public void WithoutAvx2TheVector128PathRunsWhereVector128Is()
    {
        if (System.Runtime.Intrinsics.X86.Avx2.IsSupported) return;
        bool v128 = System.Runtime.Intrinsics.Vector128.IsHardwareAccelerated;
        // the SRResNet body: wide-tile Winograd, F(4x4) for weights within ±56, F(2x4) for 8 bits
        Assert.Equal(v128 ? QuantConvPath.PortableWinograd2x4 : QuantConvPath.Scalar,
            QuantConv3x3.BestPath(new QuantConvWeights(Enumerable.Repeat((sbyte)-128, 64 * 64 * 9).ToArray(), 64, 64, 8), 255));
        Assert.Equal(v128 ? QuantConvPath.PortableWinograd4x4 : QuantConvPath.Scalar,
            QuantConv3x3.BestPath(new QuantConvWeights(Enumerable.Repeat((sbyte)-8, 64 * 64 * 9).ToArray(), 64, 64, 4), 15));
        // ClustBlock's 64->32 conv3: the direct Vector128 path
        Assert.Equal(v128 ? QuantConvPath.Portable : QuantConvPath.Scalar, QuantConv3x3.BestPath(new QuantConvWeights(new sbyte[32 * 64 * 9], 32, 64, 8), 255));
        Assert.Equal(QuantConvPath.Scalar, QuantConv3x3.BestPath(new QuantConvWeights(new sbyte[12 * 64 * 9], 12, 64, 8), 255));
    }

    // The AvxVnni path takes channel counts the 64-channel paths do not (ClustBlock's conv3 is
    // 64→32), 8-bit extremes (int32 sums, no bound), and every tile remainder of its 6 pixels
    [Theory]
    [InlineData(4, 16)]
    [InlineData(12, 32)]
    [InlineData(64, 48)]
    public void VnniPathMatchesReferenceOnOtherChannelCounts(int cin, int cout)
    {
        if (!System.Runtime.Intrinsics.X86.AvxVnni.IsSupported) return;
        foreach (var (h, w) in new[] { (1, 1), (2, 5), (3, 6), (4, 13), (2, 19) })
        {
            var s = new ConvShape(h, w, cin, cout, 3);
            var (codes, weights) = Data(h, w, cin, cout, 8, 8, h * 7 + w + cin);
            weights[0] = -128; codes[0] = 255;
            var expected = new int[s.OutputLength];
            QuantConv3x3.Reference(codes, weights, expected, s);
            var qw = new QuantConvWeights(weights, cout, cin);
            foreach (int threads in new[] { 1, 2 })
            {
                var actual = new int[s.OutputLength];
                QuantConv3x3.Run(codes, qw, actual, h, w, threads, QuantConvPath.AvxVnni);
                Assert.True(expected.SequenceEqual(actual), $"{cin}->{cout} {h}x{w}, {threads} threads differs");
            }
            var auto = new int[s.OutputLength];
            QuantConv3x3.Run(codes, qw, auto, h, w, 1);
            Assert.Equal(expected, auto);
        }
    }

    // Integer Winograd at the edges of its bounds: every code 255 against ±128 / 127 weights
    // arranged so that the transformed weights reach ±1152 and the outputs their extremes,
    // on odd sizes (tiles hanging over the image) with 1 to 3 threads (row splits inside a tile)
    [Theory]
    [InlineData(1, 1)]
    [InlineData(5, 7)]
    [InlineData(8, 33)]
    public void IntegerWinogradIsExactAtItsBounds(int h, int w)
    {
        if (!System.Runtime.Intrinsics.X86.Avx512BW.IsSupported) return;
        var s = new ConvShape(h, w, 64, 64, 3);
        foreach (var pattern in new Func<int, int, int, sbyte>[] { (co, ci, t) => -128, (co, ci, t) => 127, (co, ci, t) => (sbyte)(t % 2 == 0 ? -128 : 127), (co, ci, t) => (sbyte)((co + ci + t) % 3 == 0 ? 127 : -128) })
        {
            var weights = new sbyte[64 * 64 * 9];
            for (int co = 0; co < 64; co++) for (int ci = 0; ci < 64; ci++) for (int t = 0; t < 9; t++) weights[(co * 64 + ci) * 9 + t] = pattern(co, ci, t);
            var r = new Random(h + w);
            foreach (var codes in new[] { Enumerable.Repeat((byte)255, s.InputLength).ToArray(), Enumerable.Range(0, s.InputLength).Select(_ => (byte)(r.Next(2) * 255)).ToArray() })
            {
                var expected = new int[s.OutputLength];
                QuantConv3x3.Reference(codes, weights, expected, s);
                var qw = new QuantConvWeights(weights, 64, 64);
                foreach (int threads in new[] { 1, 2, 3 })
                {
                    var actual = new int[s.OutputLength];
                    QuantConv3x3.Run(codes, qw, actual, h, w, threads, QuantConvPath.Avx512Winograd);
                    Assert.True(expected.SequenceEqual(actual), $"{h}x{w}, {threads} threads differs");
                }
            }
        }
    }

    // Byte Winograd at its bounds: the largest activation code its offset allows (6·42 = 252)
    // or 4-bit codes, against constant and alternating 4-bit weights (|U'| = 72 at the centre
    // for a constant -8), so the int16 partial sums reach k·2·6A·|U'| close to 32767; odd sizes,
    // 1 to 3 threads
    [Theory]
    [InlineData(42, 3, 5)]
    [InlineData(15, 6, 9)]
    [InlineData(7, 1, 1)]
    [InlineData(3, 4, 7)]
    public void ByteWinogradIsExactAtItsBounds(int maxCode, int h, int w)
    {
        if (!System.Runtime.Intrinsics.X86.Avx512BW.IsSupported) return;
        var s = new ConvShape(h, w, 64, 64, 3);
        foreach (var pattern in new Func<int, int, int, sbyte>[] { (co, ci, t) => -8, (co, ci, t) => 7, (co, ci, t) => (sbyte)(t % 2 == 0 ? -8 : 7), (co, ci, t) => (sbyte)((co * 7 + ci + t) % 5 - 2) })
        {
            var weights = new sbyte[64 * 64 * 9];
            for (int co = 0; co < 64; co++) for (int ci = 0; ci < 64; ci++) for (int t = 0; t < 9; t++) weights[(co * 64 + ci) * 9 + t] = pattern(co, ci, t);
            var qw = new QuantConvWeights(weights, 64, 64, 4);
            Assert.NotNull(qw.ByteWinograd);
            var r = new Random(maxCode + h);
            foreach (var codes in new[] { Enumerable.Repeat((byte)maxCode, s.InputLength).ToArray(), Enumerable.Range(0, s.InputLength).Select(_ => (byte)(r.Next(2) * maxCode)).ToArray() })
            {
                var expectedAll = new int[s.OutputLength];
                QuantConv3x3.Reference(codes, weights, expectedAll, s);
                if (VnniWinogradUsable(codes, qw))
                    foreach (int threads in new[] { 1, 3 })
                    {
                        // the VNNI twin sums in int32: exact wherever V' + 2A and U' fit bytes, steps or not
                        var viaVnni = new int[s.OutputLength];
                        QuantConv3x3.Run(codes, qw, viaVnni, h, w, threads, QuantConvPath.AvxVnniWinograd);
                        Assert.True(expectedAll.SequenceEqual(viaVnni), $"VNNI Winograd: a≤{maxCode} {h}x{w}, {threads} threads differs");
                    }
                int steps = QuantConv3x3.ByteWinogradSteps(maxCode, qw.ByteWinograd!.MaxAbs, 64);
                if (steps == 0)
                {
                    // one vpmaddubsw could saturate: the path refuses rather than round
                    Assert.Throws<NotSupportedException>(() => QuantConv3x3.Run(codes, qw, new int[s.OutputLength], h, w, 1, QuantConvPath.Avx512WinogradBytes));
                    continue;
                }
                var expected = new int[s.OutputLength];
                QuantConv3x3.Reference(codes, weights, expected, s);
                foreach (int threads in new[] { 1, 2, 3 })
                {
                    var actual = new int[s.OutputLength];
                    QuantConv3x3.Run(codes, qw, actual, h, w, threads, QuantConvPath.Avx512WinogradBytes);
                    Assert.True(expected.SequenceEqual(actual), $"a≤{maxCode} {h}x{w}, {threads} threads differs ({steps} steps)");
                }
            }
        }
        // one code more than the offset allows, or 6-bit weights whose U' leave a byte: refused
        Assert.Equal(0, QuantConv3x3.ByteWinogradSteps(43, 72, 64));
        Assert.Equal(0, QuantConv3x3.ByteWinogradSteps(15, 128, 64));
        Assert.Null(new QuantConvWeights(Enumerable.Repeat((sbyte)-32, 64 * 64 * 9).ToArray(), 64, 64, 6).ByteWinograd);
    }

    // Row Winograd at its bounds: codes all at the largest value (the position-1 transform
    // d1 + d2 reaches 2A) against constant 6-bit weights, whose U' = 3·(−32) = −96 in every
    // lane, so a run of k quads sums exactly k·2A·192 in one int16 lane: the step bound is
    // reached, not just respected; also mixed-sign and small weights (runs crossing kernel
    // rows), 7-bit weights that still fit a byte, odd sizes, 1 to 3 threads
    [Theory]
    [InlineData(127, 3, 5)]
    [InlineData(63, 4, 9)]
    [InlineData(15, 6, 7)]
    [InlineData(1, 1, 1)]
    [InlineData(31, 2, 1)]
    public void RowWinogradIsExactAtItsBounds(int maxCode, int h, int w)
    {
        if (!System.Runtime.Intrinsics.X86.Avx512BW.IsSupported) return;
        var s = new ConvShape(h, w, 64, 64, 3);
        foreach (var pattern in new Func<int, int, int, sbyte>[] { (co, ci, t) => -32, (co, ci, t) => 31, (co, ci, t) => 42, (co, ci, t) => (sbyte)(t % 2 == 0 ? -32 : 31), (co, ci, t) => (sbyte)((co * 7 + ci + t) % 5 - 2) })
        {
            var weights = new sbyte[64 * 64 * 9];
            for (int co = 0; co < 64; co++) for (int ci = 0; ci < 64; ci++) for (int t = 0; t < 9; t++) weights[(co * 64 + ci) * 9 + t] = pattern(co, ci, t);
            var qw = new QuantConvWeights(weights, 64, 64);
            Assert.NotNull(qw.RowWinograd);
            var r = new Random(maxCode + h);
            foreach (var codes in new[] { Enumerable.Repeat((byte)maxCode, s.InputLength).ToArray(), Enumerable.Range(0, s.InputLength).Select(_ => (byte)(r.Next(2) * maxCode)).ToArray() })
            {
                var expectedAll = new int[s.OutputLength];
                QuantConv3x3.Reference(codes, weights, expectedAll, s);
                if (System.Runtime.Intrinsics.X86.AvxVnni.IsSupported && System.Runtime.Intrinsics.X86.Avx512F.IsSupported)
                    foreach (int threads in new[] { 1, 3 })
                    {
                        // the VNNI twin sums in int32: exact wherever U' fits a byte, steps or not
                        var viaVnni = new int[s.OutputLength];
                        QuantConv3x3.Run(codes, qw, viaVnni, h, w, threads, QuantConvPath.AvxVnniWinogradRows);
                        Assert.True(expectedAll.SequenceEqual(viaVnni), $"VNNI rows: a≤{maxCode} {h}x{w}, {threads} threads differs");
                    }
                int steps = qw.RowWinograd!.Steps(maxCode);
                if (steps == 0)
                {
                    // one quad could leave int16: the path refuses rather than wrap
                    Assert.Throws<NotSupportedException>(() => QuantConv3x3.Run(codes, qw, new int[s.OutputLength], h, w, 1, QuantConvPath.Avx512WinogradRowBytes));
                    continue;
                }
                var expected = new int[s.OutputLength];
                QuantConv3x3.Reference(codes, weights, expected, s);
                foreach (int threads in new[] { 1, 2, 3 })
                {
                    var actual = new int[s.OutputLength];
                    QuantConv3x3.Run(codes, qw, actual, h, w, threads, QuantConvPath.Avx512WinogradRowBytes);
                    Assert.True(expected.SequenceEqual(actual), $"a≤{maxCode} {h}x{w}, {threads} threads differs ({steps} steps)");
                }
            }
        }
        // the bound from the weights: 2A·192 per quad for constant −32 weights
        var constant = new QuantConvWeights(Enumerable.Repeat((sbyte)-32, 64 * 64 * 9).ToArray(), 64, 64, 6).RowWinograd!;
        Assert.Equal(32767 / (2 * 15 * 192), constant.Steps(15));
        Assert.Equal(1, constant.Steps(85));    // 170·192 = 32640
        Assert.Equal(0, constant.Steps(86));    // 172·192 = 33024 > 32767
        Assert.Equal(0, constant.Steps(128));   // 2A past a byte
        // BestPath takes the 2-D byte path where it runs (4-bit weights), F(4x4) for other weights
        // up to ±56
        // (one channel pair with every tap at 20 puts the 2-D transform at 9·20 = 180, out of a byte)
        var small = new QuantConvWeights(Enumerable.Range(0, 64 * 64 * 9).Select(i => (sbyte)(i < 9 ? 20 : i * 7 % 13 - 6 + (i % 97 == 0 ? -26 : 0))).ToArray(), 64, 64, 6);
        Assert.Equal(32, small.MaxAbsCode);
        Assert.Null(small.ByteWinograd);
        bool vnni = System.Runtime.Intrinsics.X86.AvxVnni.IsSupported && System.Runtime.Intrinsics.X86.Avx512F.IsSupported;
        // (F(4x4) on int16 now goes ahead of the row paths for 6-bit weights: w6a4 1.05–1.07x the row VNNI path)
        Assert.Equal(QuantConvPath.Avx512Winograd4x4, QuantConv3x3.BestPath(small, 15));
        Assert.Equal(QuantConvPath.Avx512Winograd4x4, QuantConv3x3.BestPath(new QuantConvWeights(Enumerable.Repeat((sbyte)-32, 64 * 64 * 9).ToArray(), 64, 64, 6), 15));
        // (at 64 input channels F(4x4) is exact for every weight the row paths take, ±42 at
        // codes up to 127: 576·127·42·576 < 2³¹, so BestPath reaches them only for wider inputs)
        var wideIn = new QuantConvWeights(Enumerable.Repeat((sbyte)-42, 64 * 128 * 9).ToArray(), 64, 128, 7);
        Assert.False(wideIn.Winograd4x4!.Exact(127));
        if (vnni) Assert.Equal(QuantConvPath.AvxVnniWinogradRows, QuantConv3x3.BestPath(wideIn, 127));
        Assert.Equal(vnni ? QuantConvPath.AvxVnniWinograd : QuantConvPath.Avx512WinogradBytes, QuantConv3x3.BestPath(new QuantConvWeights(Enumerable.Repeat((sbyte)-8, 64 * 64 * 9).ToArray(), 64, 64, 4), 15));
                // transformed weights past a byte: 3·(−43) = −129
        Assert.Null(new QuantConvWeights(Enumerable.Repeat((sbyte)-43, 64 * 64 * 9).ToArray(), 64, 64, 7).RowWinograd);
    }

    [Fact]
    public void IntegerWinogradBoundIsDerivedFromTheBitWidths()
    {
        // 9·cin·(4·255)·(9·128) ≤ int.MaxValue up to 203 input channels at 8-bit weights
        Assert.True(QuantConv3x3.IntWinogradExact(203, 128));
        Assert.False(QuantConv3x3.IntWinogradExact(204, 128));
        Assert.True(QuantConv3x3.IntWinogradExact(800, 32));
        Assert.False(QuantConv3x3.IntWinogradExact(64, 4000));   // transformed weights past int16
        // 8-bit models take it where the int16 path cannot sum exactly
        if (System.Runtime.Intrinsics.X86.Avx512BW.IsSupported)
            Assert.Equal(QuantConvPath.Avx512Winograd2x4, QuantConv3x3.BestPath(new QuantConvWeights(Enumerable.Repeat((sbyte)-128, 64 * 64 * 9).ToArray(), 64, 64, 8), 255));
    }

    // The wide-tile Winograd paths at the edges of their bounds, on odd sizes (tiles hanging
    // over the image right and below) with 1 to 3 threads (row splits inside a tile):
    // F(2x4) with every code 255 against ±128 / 127 weights (|U'| up to 72·128 = 9216, the
    // result 48·conv up to 9.0e8); F(4x4) with ±56 weights (|U'| up to 576·56 = 32256, just
    // inside int16) and codes up to 115, the largest for which 576·conv fits int32 when every
    // weight is ±56 (576·115·56·576 = 2 136 637 440), while the products' int32 sums wrap many
    // times before the output transform (which is why the result is still exact: every step
    // is a ring operation modulo 2³²)
    [Theory]
    [InlineData(1, 1)]
    [InlineData(5, 7)]
    [InlineData(8, 33)]
    [InlineData(7, 10)]
    public void WideWinogradIsExactAtItsBounds(int h, int w)
    {
        if (!System.Runtime.Intrinsics.X86.Avx512BW.IsSupported) return;
        var s = new ConvShape(h, w, 64, 64, 3);
        foreach (var (path, hi, lo, code) in new[] { (QuantConvPath.Avx512Winograd2x4, 127, -128, 255), (QuantConvPath.Avx512Winograd4x4, 56, -56, 115) })
            foreach (var pattern in new Func<int, int, int, bool>[] { (co, ci, t) => false, (co, ci, t) => true, (co, ci, t) => t % 2 == 0, (co, ci, t) => (co + ci + t) % 3 == 0 })
            {
                var weights = new sbyte[64 * 64 * 9];
                for (int co = 0; co < 64; co++) for (int ci = 0; ci < 64; ci++) for (int t = 0; t < 9; t++) weights[(co * 64 + ci) * 9 + t] = (sbyte)(pattern(co, ci, t) ? hi : lo);
                var r = new Random(h + w);
                var qw = new QuantConvWeights(weights, 64, 64);
                foreach (var codes in new[] { Enumerable.Repeat((byte)code, s.InputLength).ToArray(), Enumerable.Range(0, s.InputLength).Select(_ => (byte)(r.Next(2) * code)).ToArray() })
                {
                    var expected = new int[s.OutputLength];
                    QuantConv3x3.Reference(codes, weights, expected, s);
                    foreach (int threads in new[] { 1, 2, 3 })
                    {
                        var actual = new int[s.OutputLength];
                        QuantConv3x3.Run(codes, qw, actual, h, w, threads, path);
                        Assert.True(expected.SequenceEqual(actual), $"{path} ±{hi} a≤{code} {h}x{w}, {threads} threads differs");
                    }
                }
            }
        // one code more, with every weight at -56, and 576·conv no longer fits: the path refuses
        var w56 = new QuantConvWeights(Enumerable.Repeat((sbyte)-56, 64 * 64 * 9).ToArray(), 64, 64);
        Assert.True(w56.Winograd4x4!.Exact(115));
        Assert.False(w56.Winograd4x4.Exact(116));
        Assert.Equal(32256, w56.Winograd4x4.MaxAbs);
        Assert.Throws<NotSupportedException>(() => QuantConv3x3.Run(Enumerable.Repeat((byte)116, s.InputLength).ToArray(), w56, new int[s.OutputLength], h, w, 1, QuantConvPath.Avx512Winograd4x4));
        Assert.NotEqual(QuantConvPath.Avx512Winograd4x4, QuantConv3x3.BestPath(w56, 116));
        Assert.Equal(QuantConvPath.Avx512Winograd4x4, QuantConv3x3.BestPath(w56, 115));
        // a centre tap past ±56 puts U' at position (5, 5) = 576·g past int16: no F(4x4) weights
        var g57 = Enumerable.Repeat((sbyte)1, 64 * 64 * 9).ToArray();
        g57[8] = -57;
        Assert.Null(new QuantConvWeights(g57, 64, 64).Winograd4x4);
        g57[8] = -56;
        Assert.NotNull(new QuantConvWeights(g57, 64, 64).Winograd4x4);
        // F(2x4) takes any 8-bit weights; 48·255·128·9·cin fits int32 up to 153 input channels
        var wide = new QuantConvWeights(Enumerable.Repeat((sbyte)-128, 160 * 64 * 9).ToArray(), 64, 160);
        Assert.False(wide.Winograd2x4!.Exact(255));
        Assert.Equal(QuantConvPath.Avx512Winograd, QuantConv3x3.BestPath(wide, 255));
    }

    // The wide-tile Winograd paths on the other channel counts they take (inputs a multiple
    // of 32: the input transform's step; outputs of 64: the GEMM's block)
    [Theory]
    [InlineData(32, 64)]
    [InlineData(96, 128)]
    public void WideWinogradTakesOtherChannelCounts(int cin, int cout)
    {
        if (!System.Runtime.Intrinsics.X86.Avx512BW.IsSupported) return;
        foreach (var (h, w) in new[] { (3, 5), (6, 9) })
        {
            var s = new ConvShape(h, w, cin, cout, 3);
            // 7-bit codes: F(4x4) is exact for any 6-bit weights up to 96 inputs (576·127·96·9·32 < 2³¹)
            var (codes, weights) = Data(h, w, cin, cout, 7, 6, h + w + cin);
            var expected = new int[s.OutputLength];
            QuantConv3x3.Reference(codes, weights, expected, s);
            var qw = new QuantConvWeights(weights, cout, cin);
            foreach (var path in new[] { QuantConvPath.Avx512Winograd2x4, QuantConvPath.Avx512Winograd4x4 })
            {
                var actual = new int[s.OutputLength];
                QuantConv3x3.Run(codes, qw, actual, h, w, 2, path);
                Assert.True(expected.SequenceEqual(actual), $"{path} {cin}->{cout} {h}x{w} differs");
            }
        }
    }

    [Fact]
    public void WideOutputsUseEveryChannelBlock()
    {
        // 128 output channels = two 64-channel blocks of the Avx512 path; 5 px wide = one 4-px block + 1
        var s = new ConvShape(3, 5, 64, 128, 3);
        var (codes, weights) = Data(3, 5, 64, 128, 8, 8, 11);
        var expected = new int[s.OutputLength];
        QuantConv3x3.Reference(codes, weights, expected, s);
        var qw = new QuantConvWeights(weights, 128, 64);
        foreach (var path in SupportedPaths())
        {
            var actual = new int[s.OutputLength];
            QuantConv3x3.Run(codes, qw, actual, 3, 5, 1, path);
            Assert.True(expected.SequenceEqual(actual), $"{path} differs");
        }
    }

    [Fact]
    public void ExtremeCodesDoNotSaturate()
    {
        // all 255 x -128: the worst case for any int16 intermediate
        int h = 4, w = 4;
        var codes = Enumerable.Repeat((byte)255, h * w * 64).ToArray();
        var weights = Enumerable.Repeat((sbyte)-128, 64 * 64 * 9).ToArray();
        foreach (var path in SupportedPaths())
        {
            var acc = new int[h * w * 64];
            QuantConv3x3.Run(codes, new QuantConvWeights(weights, 64, 64), acc, h, w, 1, path);
            Assert.Equal(255 * -128 * 64 * 9, acc[(1 * w + 1) * 64]);      // interior: 9 taps
            Assert.Equal(255 * -128 * 64 * 4, acc[0]);                     // corner: 4 taps
        }
    }

    [Fact]
    public void NonVectorizableShapesUseTheReference()
    {
        var s = new ConvShape(5, 6, 12, 7, 3);
        var (codes, weights) = Data(5, 6, 12, 7, 8, 8, 9);
        var expected = new int[s.OutputLength];
        QuantConv3x3.Reference(codes, weights, expected, s);
        var actual = new int[s.OutputLength];
        QuantConv3x3.Run(codes, new QuantConvWeights(weights, 7, 12), actual, 5, 6, 1);
        Assert.Equal(expected, actual);
    }

    [Fact]
    public void EpilogueEqualsTheConvOfDequantizedValues()
    {
        // y must equal Σ (a + za)(w + zw) over valid taps, scaled: check against that directly
        int h = 6, w = 5, c = 64, za = -7, zw = 3;
        float scale = 0.01f;
        var (codes, weights) = Data(h, w, c, c, 4, 6, 5);
        var qw = new QuantConvWeights(weights, c, c);
        var acc = new int[h * w * c];
        QuantConv3x3.Run(codes, qw, acc, h, w, 1);
        var y = new float[acc.Length];
        QuantConvEpilogue.Dequantize(codes, acc, qw, h, w, za, zw, scale, y);
        for (int py = 0; py < h; py++)
            for (int px = 0; px < w; px++)
                for (int co = 0; co < c; co += 13)
                {
                    long total = 0;
                    for (int ky = -1; ky <= 1; ky++)
                        for (int kx = -1; kx <= 1; kx++)
                        {
                            int iy = py + ky, ix = px + kx;
                            if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                            for (int ci = 0; ci < c; ci++)
                                total += (long)(codes[(iy * w + ix) * c + ci] + za) * (weights[((co * c + ci) * 3 + ky + 1) * 3 + kx + 1] + zw);
                        }
                    Assert.Equal((float)total * scale, y[(py * w + px) * c + co]);
                }
    }

    [Fact]
    public void FusedEpilogueEqualsTheSeparatePassesBitForBit()
    {
        int h = 5, w = 7, c = 64, za = -3, zw = 2;
        float scale = 0.013f, slope = 0.2f;
        var (codes, weights) = Data(h, w, c, c, 5, 6, 21);
        var qw = new QuantConvWeights(weights, c, c);
        var acc = new int[h * w * c];
        QuantConv3x3.Run(codes, qw, acc, h, w, 1);
        var r = new Random(4);
        var a = Enumerable.Range(0, c).Select(_ => (float)r.NextDouble() + 0.5f).ToArray();
        var b = Enumerable.Range(0, c).Select(_ => (float)r.NextDouble() - 0.5f).ToArray();
        var skip = Enumerable.Range(0, h * w * c).Select(_ => (float)r.NextDouble() * 4 - 2).ToArray();

        var separate = new float[acc.Length];
        QuantConvEpilogue.Dequantize(codes, acc, qw, h, w, za, zw, scale, separate);
        for (int i = 0; i < separate.Length; i++)
        {
            float v = separate[i] * a[i % c] + b[i % c];
            v = v > 0f ? v : slope * v;
            separate[i] = skip[i] + v;
        }
        var fused = (float[])skip.Clone();   // residual updated in place, as the ResBlock does
        QuantConvEpilogue.Dequantize(codes, acc, qw, h, w, za, zw, scale, fused,
            new EpilogueOps { AffineA = a, AffineB = b, PReluSlope = slope, Residual = fused });
        Assert.Equal(separate, fused);
    }

    [Theory]
    [InlineData(15, 32, 34)]     // 4-bit activations, 6-bit weights: SPEC §8's k = 35 counts 2k·15·31; with -32 it is 34
    [InlineData(63, 32, 8)]
    [InlineData(255, 32, 2)]
    [InlineData(255, 128, 0)]    // 8-bit x 8-bit: one vpmaddubsw pair can saturate, never exact
    [InlineData(3, 2, 2730)]
    public void Int16StepBound(int maxA, int maxW, int steps) => Assert.Equal(steps, QuantConv3x3.Int16Steps(maxA, maxW));

    [Fact]
    public void Avx2Int16PathIsExactAtItsBoundAndRefusesPastIt()
    {
        if (!System.Runtime.Intrinsics.X86.Avx2.IsSupported) return;
        var weights = AssertInt16PathAtItsBound(QuantConvPath.Avx2Int16, threads: 2);
        // (BestPath takes the Vector256 F(4x4) there instead, as the Vector512 one on AVX-512)
        if (!System.Runtime.Intrinsics.X86.Avx512BW.IsSupported)
            Assert.Equal(QuantConvPath.Avx2Winograd4x4, QuantConv3x3.BestPath(weights, 15));
    }

    [Fact]
    public void Int16PathIsExactAtItsBound()
    {
        if (!System.Runtime.Intrinsics.X86.Avx512BW.IsSupported) return;
        var weights = AssertInt16PathAtItsBound(QuantConvPath.Avx512Int16, threads: 1);
        // (BestPath takes F(4x4) for these instead: int16 operands, int32 sums, no step bound)
        Assert.Equal(QuantConvPath.Avx512Winograd4x4, QuantConv3x3.BestPath(weights, 15));
    }

    /// <summary>An int16 path (Vector512 or Vector256) at the worst case of its bound: every
    /// code at its maximum, every weight at -32, so each int16 partial sum reaches
    /// -34·2·15·32 = -32640 just before widening (odd width: a partial tile at the right edge);
    /// one more unit on either side breaks the bound, and the path refuses rather than
    /// overflow. Returns the weights, for the callers' BestPath checks.</summary>
    static QuantConvWeights AssertInt16PathAtItsBound(QuantConvPath path, int threads)
    {
        int h = 3, w = 5;
        var codes = Enumerable.Repeat((byte)15, h * w * 64).ToArray();
        var weights = Enumerable.Repeat((sbyte)-32, 64 * 64 * 9).ToArray();
        var s = new ConvShape(h, w, 64, 64, 3);
        var expected = new int[s.OutputLength];
        QuantConv3x3.Reference(codes, weights, expected, s);
        var actual = new int[s.OutputLength];
        QuantConv3x3.Run(codes, new QuantConvWeights(weights, 64, 64), actual, h, w, threads, path);
        Assert.Equal(expected, actual);
        var big = Enumerable.Repeat((byte)255, h * w * 64).ToArray();
        var w8 = Enumerable.Repeat((sbyte)-128, 64 * 64 * 9).ToArray();
        Assert.Throws<NotSupportedException>(() => QuantConv3x3.Run(big, new QuantConvWeights(w8, 64, 64), actual, h, w, 1, path));
        return new QuantConvWeights(weights, 64, 64);
    }
}
