using System.Runtime.Intrinsics.X86;
using RefQsr.Kernels;

namespace RefQsr.Engine.Tests.Kernels;

/// <summary><see cref="QuantConv3x3.RunWithEpilogue(byte[], QuantConvWeights, int, int, int, int, float, float[], EpilogueOps, int)"/>
/// (conv and epilogue row by row) gives the bytes of the whole-image conv followed by the
/// scalar epilogue, on every path, image shape and thread count.</summary>
public class FusedConvEpilogueTests
{
    public static TheoryData<QuantConvPath> Paths()
    {
        var d = new TheoryData<QuantConvPath> { QuantConvPath.Scalar };
        if (System.Runtime.Intrinsics.Vector128.IsHardwareAccelerated) { d.Add(QuantConvPath.Portable); d.Add(QuantConvPath.PortableWinograd2x4); d.Add(QuantConvPath.PortableWinograd4x4); }
        if (Avx2.IsSupported) d.Add(QuantConvPath.Avx2);
        if (Avx2.IsSupported) d.Add(QuantConvPath.Avx2Pairs);
        if (Avx2.IsSupported) { d.Add(QuantConvPath.Avx2Int16); d.Add(QuantConvPath.Avx2Winograd2x4); d.Add(QuantConvPath.Avx2Winograd4x4); }
        if (AvxVnni.IsSupported) d.Add(QuantConvPath.AvxVnni);
        if (AvxVnni.IsSupported && Avx512BW.IsSupported) { d.Add(QuantConvPath.AvxVnniWinogradRows); d.Add(QuantConvPath.AvxVnniWinograd); }
        if (Avx512BW.IsSupported) { d.Add(QuantConvPath.Avx512Pairs); d.Add(QuantConvPath.Avx512Int16); d.Add(QuantConvPath.Avx512Winograd); d.Add(QuantConvPath.Avx512WinogradBytes); d.Add(QuantConvPath.Avx512WinogradRowBytes); d.Add(QuantConvPath.Avx512Winograd2x4); d.Add(QuantConvPath.Avx512Winograd4x4); }
        return d;
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void RowByRowEqualsTheSeparatePasses(QuantConvPath path)
    {
        const int c = 64;
        var r = new Random((int)path + 5);
        // 4-bit activations and 6-bit weights, so that every path (the int16 one too) is exact;
        // 4-bit weights for the byte Winograd path, whose transformed weights must fit a byte
        bool byteU = path is QuantConvPath.Avx512WinogradBytes or QuantConvPath.AvxVnniWinograd;
        int wMax = byteU ? 8 : 32;
        var qw = new QuantConvWeights(Enumerable.Range(0, c * c * 9).Select(_ => (sbyte)r.Next(-wMax, wMax)).ToArray(), c, c, byteU ? 4 : 6);
        var a = Enumerable.Range(0, c).Select(_ => (float)r.NextDouble() + 0.5f).ToArray();
        var b = Enumerable.Range(0, c).Select(_ => (float)r.NextDouble() - 0.5f).ToArray();
        var next = new CodeQuantizer(-1.5f, 1.5f, 5f, 0f, -8, 7);
        foreach (var (h, w) in new[] { (1, 1), (1, 6), (3, 1), (2, 5), (6, 9), (5, 13), (19, 6) })   // 19 rows: three calls of 8, split across threads
        {
            var codes = Enumerable.Range(0, h * w * c).Select(_ => (byte)r.Next(16)).ToArray();
            var skip = Enumerable.Range(0, h * w * c).Select(_ => (float)r.NextDouble() * 4 - 2).ToArray();
            var acc = new int[h * w * c];
            QuantConv3x3.Run(codes, qw, acc, h, w, 1, QuantConvPath.Scalar);
            foreach (bool codesOnly in new[] { false, true })
            {
                // the reference: a ResBlock's conv2 (BN, residual in place, float out) or its conv1 (BN, PReLU, codes only)
                var expectedOut = (float[])skip.Clone();
                var expectedCodes = new byte[acc.Length];
                var ops = codesOnly
                    ? new EpilogueOps { AffineA = a, AffineB = b, PReluSlope = 0.25f, NextCodes = expectedCodes, NextQuantizer = next, CodesOnly = true }
                    : new EpilogueOps { AffineA = a, AffineB = b, Residual = expectedOut };
                QuantConvEpilogue.DequantizeScalar(codes, acc, qw, h, w, -8, 1, 0.004f, codesOnly ? [] : expectedOut, ops);
                foreach (int threads in new[] { 1, 3 })
                {
                    var actualOut = (float[])skip.Clone();
                    var actualCodes = new byte[acc.Length];
                    var fusedOps = codesOnly ? ops with { NextCodes = actualCodes } : ops with { Residual = actualOut };
                    QuantConv3x3.RunWithEpilogue(codes, qw, h, w, -8, 1, 0.004f, codesOnly ? [] : actualOut, fusedOps, threads, path);
                    if (codesOnly)
                    {
                        Assert.Equal(expectedCodes, actualCodes);
                        Assert.True(h * w == 1 || expectedCodes.Distinct().Count() > 4, "the test codes must span the range");
                    }
                    else Assert.Equal(expectedOut, actualOut);
                }
            }
        }
    }

    [Fact]
    public void BadShapesAreRejectedWithTheirSizes()
    {
        var qw = new QuantConvWeights(new sbyte[16 * 16 * 9], 16, 16, 4);
        var e = Assert.Throws<ArgumentException>(() => QuantConv3x3.RunWithEpilogue(new byte[10], qw, 2, 2, 0, 0, 1f, new float[64], default));
        Assert.Contains("input has 10 values, needs 64", e.Message);
        e = Assert.Throws<ArgumentException>(() => QuantConv3x3.RunWithEpilogue(new byte[64], qw, 2, 2, 0, 0, 1f, new float[63], default));
        Assert.Contains("buffer sizes do not match", e.Message);
        Assert.Throws<ArgumentException>(() => QuantConv3x3.RunWithEpilogue(new byte[64], qw, 0, 2, 0, 0, 1f, new float[64], default));
    }
}
