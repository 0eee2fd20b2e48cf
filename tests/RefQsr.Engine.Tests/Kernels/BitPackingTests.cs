using RefQsr.Kernels;

namespace RefQsr.Engine.Tests.Kernels;

public class BitPackingTests
{
    static sbyte[] Codes(int n, int bits, int seed)
    {
        var r = new Random(seed);
        var c = new sbyte[n];
        for (int i = 0; i < n; i++) c[i] = (sbyte)r.Next(-(1 << (bits - 1)), 1 << (bits - 1));
        return c;
    }

    public static TheoryData<int> Widths() => [2, 3, 4, 5, 6, 7, 8];

    [Theory]
    [MemberData(nameof(Widths))]
    public void RoundTripsEveryCodeOfEveryWidth(int bits)
    {
        foreach (int n in new[] { 1, 63, 64, 65, 200, 36864 })
        {
            var codes = Codes(n, bits, n * 7 + bits);
            // the extremes of the range must survive too
            codes[0] = (sbyte)-(1 << (bits - 1));
            codes[n - 1] = (sbyte)((1 << (bits - 1)) - 1);
            var packed = BitPacking.Pack(codes, bits);
            Assert.Equal((n + 63) / 64 * 8 * bits, packed.Length);
            var scalar = new sbyte[n];
            BitPacking.UnpackReference(packed, bits, scalar);
            Assert.Equal(codes, scalar);
            var simd = new sbyte[n];
            BitPacking.Unpack(packed, bits, simd);
            Assert.Equal(codes, simd);
            foreach (int width in VectorWidths())
            {
                var path = new sbyte[n];
                BitPacking.Unpack(packed, bits, path, width);
                Assert.True(codes.AsSpan().SequenceEqual(path), $"{width}-bit path, {n} codes");
            }
        }
    }

    /// <summary>Every decode path this CPU can run: a machine with AVX-512 also checks the
    /// AVX2 and scalar ones, which are what CPUs without it take.</summary>
    static IEnumerable<int> VectorWidths()
    {
        yield return 0;
        if (System.Runtime.Intrinsics.X86.Avx2.IsSupported) yield return 256;
        if (System.Runtime.Intrinsics.X86.Avx512F.IsSupported && System.Runtime.Intrinsics.X86.Avx512BW.IsSupported) yield return 512;
    }

    [Fact]
    public void RejectsARegisterWidthTheCpuLacks()
    {
        var packed = BitPacking.Pack(new sbyte[64], 4);
        Assert.Throws<ArgumentOutOfRangeException>(() => BitPacking.Unpack(packed, 4, new sbyte[64], 128));
    }

    [Fact]
    public void StoresExactlyBitsPerCode()
    {
        // 64 codes of 3 bits are 24 bytes: nothing is rounded up to a nibble
        Assert.Equal(24, BitPacking.PackedLength(64, 3));
        Assert.Equal(48, BitPacking.PackedLength(64, 6));
        Assert.Equal(16, BitPacking.PackedLength(64, 2));
    }

    [Fact]
    public void LayoutOfOneBlockIsTheDocumentedOne()
    {
        // 3 bits = crumb field (high 2 bits) then bit field (low bit), offset-binary
        var codes = new sbyte[64];
        codes[17] = 3;    // u = 7 = 0b11|1: crumb 3 at byte 1, bits 2..3; bit 1 at byte 1, bit 2
        var packed = BitPacking.Pack(codes, 3);
        // every other code is 0, u = 4 = 0b10|0: crumb 2 in every crumb slot, low bit 0
        Assert.Equal(0b10_10_11_10, packed[1]);
        Assert.Equal(0b10_10_10_10, packed[0]);
        Assert.Equal(0b0000_0100, packed[16 + 1]);
        Assert.Equal(0, packed[16]);
    }

    [Fact]
    public void RejectsCodesOutsideTheWidth()
    {
        var e = Assert.Throws<ArgumentException>(() => BitPacking.Pack(new sbyte[] { 0, 8 }, 4));
        Assert.Contains("index 1", e.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => BitPacking.Pack(new sbyte[] { 0 }, 9));
        Assert.Throws<ArgumentException>(() => BitPacking.Unpack(new byte[5], 4, new sbyte[64]));
    }

    [Fact]
    public void NarrowestWidthHoldsEveryCode()
    {
        Assert.Equal(2, BitPacking.BitsFor(new sbyte[] { -2, 1 }));
        Assert.Equal(3, BitPacking.BitsFor(new sbyte[] { -2, 2 }));
        Assert.Equal(8, BitPacking.BitsFor(new sbyte[] { -128 }));
        Assert.Equal(7, BitPacking.BitsFor(new sbyte[] { 63, -64 }));
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    [InlineData(6)]
    [InlineData(8)]
    public void ConvWeightsKeepBBitsPerWeightAndGiveBackTheCodes(int bits)
    {
        foreach (var (cout, cin) in new[] { (64, 64), (7, 12), (64, 6) })
        {
            var codes = Codes(cout * cin * 9, bits, cout + cin + bits);
            var w = new QuantConvWeights(codes, cout, cin, bits);
            Assert.Equal(bits, w.Bits);
            Assert.Equal(codes, w.UnpackOihw());
            long packedBytes = BitPacking.PackedLength(codes.Length, bits);
            Assert.Equal(packedBytes + 4L * (cout * 9 + cout), w.ResidentBytes);
        }
        Assert.Throws<ArgumentException>(() => new QuantConvWeights(new sbyte[] { 0, 0, 0, 0, 5, 0, 0, 0, 0 }, 1, 1, 2));
    }

    [Fact]
    public void PreparedWinogradLayoutsAreCountedAsResident()
    {
        var w8 = new QuantConvWeights(Codes(64 * 64 * 9, 8, 1), 64, 64, 8);
        long before = w8.ResidentBytes;
        w8.PrepareFor(8);
        // 8-bit activations take the F(2x4) int16 Winograd path: 24 int16 per channel pair (its
        // Vector256 twin on AVX2 without AVX-512, its Vector128 one elsewhere)
        bool avx512 = System.Runtime.Intrinsics.X86.Avx512BW.IsSupported;
        bool narrow = System.Runtime.Intrinsics.X86.Avx2.IsSupported || System.Runtime.Intrinsics.Vector128.IsHardwareAccelerated;
        long expected = avx512 || narrow ? 24L * 64 * 64 * 2 : 0;
        Assert.Equal(before + expected, w8.ResidentBytes);
        var w4 = new QuantConvWeights(Codes(64 * 64 * 9, 4, 2), 64, 64, 4);
        before = w4.ResidentBytes;
        w4.PrepareFor(4);
        // 4-bit: the byte path, one byte per channel pair and position plus Σ U' per position and
        // output channel; on AVX2 without AVX-512 (and on Vector128), F(4x4) (36 int16 per channel pair)
        expected = avx512 ? 16L * 64 * 64 + 4L * 16 * 64 : narrow ? 36L * 64 * 64 * 2 : 0;
        Assert.Equal(before + expected, w4.ResidentBytes);
        // 6-bit weights under 4-bit activations: F(4x4), 36 int16 per channel pair
        var w6 = new QuantConvWeights(Codes(64 * 64 * 9, 6, 3), 64, 64, 6);
        before = w6.ResidentBytes;
        w6.PrepareFor(4);
        expected = avx512 || narrow ? 36L * 64 * 64 * 2 : 0;
        Assert.Equal(before + expected, w6.ResidentBytes);
        Assert.Throws<ArgumentOutOfRangeException>(() => w4.PrepareFor(9));
    }
}
