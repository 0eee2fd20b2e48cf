using RefQsr.Kernels;

namespace RefQsr.Engine.Tests.Kernels;

public class WarpAndFlowTests
{
    static float[] Ramp(int h, int w, int c) => Enumerable.Range(0, h * w * c).Select(i => (float)(i * 0.37 % 11 - 5)).ToArray();

    [Fact]
    public void ZeroFlowIsTheIdentity()
    {
        var src = Ramp(5, 7, 3);
        var o = new float[src.Length];
        BilinearWarp.Run(src, 5, 7, 3, new float[5 * 7 * 2], 5, 7, o);
        Assert.Equal(src, o);
    }

    [Fact]
    public void IntegerShiftReadsNeighboursAndZerosOutside()
    {
        int h = 4, w = 6, c = 2;
        var src = Ramp(h, w, c);
        var flow = new float[h * w * 2];
        for (int p = 0; p < h * w; p++) { flow[2 * p] = 2; flow[2 * p + 1] = -1; }
        var o = new float[src.Length];
        BilinearWarp.Run(src, h, w, c, flow, h, w, o);
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                for (int k = 0; k < c; k++)
                {
                    int sx = x + 2, sy = y - 1;
                    float expect = sx < w && sy >= 0 ? src[(sy * w + sx) * c + k] : 0f;
                    Assert.Equal(expect, o[(y * w + x) * c + k]);
                }
    }

    [Fact]
    public void FractionalSampleIsBilinearWithZeroPaddedTaps()
    {
        // 2x2 single-channel source [[1, 2], [3, 4]]
        float[] src = [1, 2, 3, 4];
        var o = new float[1];
        BilinearWarp.Run(src, 2, 2, 1, [0.5f, 0.25f], 1, 1, o);      // (0.5, 0.25)
        Assert.Equal(0.5f * 0.75f * 1 + 0.5f * 0.75f * 2 + 0.5f * 0.25f * 3 + 0.5f * 0.25f * 4, o[0], 6);
        BilinearWarp.Run(src, 2, 2, 1, [1.5f, 0f], 1, 1, o);         // half outside on the right
        Assert.Equal(0.5f * 2, o[0], 6);
        BilinearWarp.Run(src, 2, 2, 1, [-7f, 30f], 1, 1, o);         // far outside
        Assert.Equal(0f, o[0]);
        // another output size than the source
        var big = new float[3 * 3];
        BilinearWarp.Run(src, 2, 2, 1, new float[3 * 3 * 2], 3, 3, big);
        Assert.Equal([1, 2, 0, 3, 4, 0, 0, 0, 0], big);
    }

    // 64 channels (the register path, all four taps per 16 channels at once, or 8 without
    // AVX-512) and 24 (8 at a time on every x86 CPU with AVX2) against the per-element
    // contract: taps in the order nw, ne, sw, se from 0, each product and add rounded, taps
    // outside the source skipped; fractional flows on every border
    [Theory]
    [InlineData(64)]
    [InlineData(24)]
    public void ManyChannelsGiveTheScalarContractsBits(int c)
    {
        int h = 5, w = 6, hs = 4, ws = 7;
        var r = new Random(3);
        var src = Enumerable.Range(0, hs * ws * c).Select(_ => (float)(r.NextDouble() * 8 - 4)).ToArray();
        var flow = Enumerable.Range(0, h * w * 2).Select(_ => (float)(r.NextDouble() * 9 - 4.5)).ToArray();
        var o = new float[h * w * c];
        BilinearWarp.Run(src, hs, ws, c, flow, h, w, o);
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
            {
                int p = y * w + x;
                float ix = x + flow[2 * p], iy = y + flow[2 * p + 1];
                float fx0 = MathF.Floor(ix), fy0 = MathF.Floor(iy), fx1 = fx0 + 1, fy1 = fy0 + 1;
                float[] wt = [(fx1 - ix) * (fy1 - iy), (ix - fx0) * (fy1 - iy), (fx1 - ix) * (iy - fy0), (ix - fx0) * (iy - fy0)];
                (int X, int Y)[] taps = [((int)fx0, (int)fy0), ((int)fx0 + 1, (int)fy0), ((int)fx0, (int)fy0 + 1), ((int)fx0 + 1, (int)fy0 + 1)];
                for (int k = 0; k < c; k++)
                {
                    float e = 0f;
                    for (int t = 0; t < 4; t++)
                        if (taps[t].X >= 0 && taps[t].X < ws && taps[t].Y >= 0 && taps[t].Y < hs)
                        {
                            float prod = src[(taps[t].Y * ws + taps[t].X) * c + k] * wt[t];
                            e += prod;
                        }
                    Assert.Equal(e, o[p * c + k]);
                }
            }
    }

    [Fact]
    public void FlowUpsampleMatchesPyTorchAlignCornersFalse()
    {
        // F.interpolate([[0, 1]], size=4, mode="linear", align_corners=False) = [0, .25, .75, 1]
        float[] flow = [0, 0, 1, 10];           // 1x2, channels (u, v)
        var o = new float[1 * 4 * 2];
        FlowUpsample.Run(flow, 1, 2, o, 1, 4, 1f);
        Assert.Equal([0f, 0f, 0.25f, 2.5f, 0.75f, 7.5f, 1f, 10f], o);
        FlowUpsample.Run(flow, 1, 2, o, 1, 4);  // then x3
        Assert.Equal([0f, 0f, 0.75f, 7.5f, 2.25f, 22.5f, 3f, 30f], o);
    }

    [Fact]
    public void FlowUpsampleOfAConstantIsTheConstantTimesThree()
    {
        var flow = new float[3 * 5 * 2];
        for (int i = 0; i < 15; i++) { flow[2 * i] = -2; flow[2 * i + 1] = 1; }
        var o = new float[10 * 16 * 2];
        FlowUpsample.Run(flow, 3, 5, o, 10, 16);
        for (int i = 0; i < 160; i++) { Assert.Equal(-6f, o[2 * i]); Assert.Equal(3f, o[2 * i + 1]); }
    }

    [Theory]
    [InlineData(10, 8, 3, 4, 3, 3, 0)]
    [InlineData(9, 9, 64, 8, 3, 1, 1)]
    [InlineData(7, 5, 5, 3, 3, 2, 1)]
    [InlineData(1, 1, 32, 10, 1, 1, 0)]
    [InlineData(26, 20, 3, 64, 3, 3, 0)]    // ClustBlock's conv1 (the vector path where AVX-512 is), leftover rows and columns
    [InlineData(8, 9, 3, 16, 2, 2, 0)]      // an even block length
    [InlineData(6, 7, 5, 32, 3, 3, 0)]      // odd block length 45: the last pair half empty
    [InlineData(8, 9, 3, 24, 3, 3, 0)]      // 8 but not 16 output channels a vector: the AVX2 path on every x86 CPU with it
    [InlineData(7, 6, 3, 12, 3, 3, 0)]      // 4 but not 8: the Vector128 path only
    public void StridedConvEqualsTheExactSumOverValidTaps(int h, int w, int cin, int cout, int k, int stride, int pad)
    {
        var rng = new Random(h * 31 + cin);
        var a = Enumerable.Range(0, h * w * cin).Select(_ => (byte)rng.Next(256)).ToArray();
        var wt = Enumerable.Range(0, cout * cin * k * k).Select(_ => (sbyte)rng.Next(-128, 128)).ToArray();
        int za = -131, zw = 7;
        float scale = 0.00123f;
        int oh = QuantConvStrided.OutputSize(h, k, stride, pad), ow = QuantConvStrided.OutputSize(w, k, stride, pad);
        var o = new float[oh * ow * cout];
        QuantConvStrided.Run(a, h, w, cin, wt, cout, k, stride, pad, za, zw, scale, o);
        AssertExactSum(o);
        // the block paths (stride = kernel, no padding) at each width this CPU runs, the
        // cross-platform Vector128 one everywhere
        if (stride == k && pad == 0)
            foreach (int bits in new[] { 128, 256, 512 })
            {
                bool runs = bits == 128 ? cout % 4 == 0
                    : bits == 256 ? System.Runtime.Intrinsics.X86.Avx2.IsSupported && cout % 8 == 0
                    : System.Runtime.Intrinsics.X86.Avx512BW.IsSupported && cout % 16 == 0;
                if (!runs) continue;
                Array.Clear(o);
                QuantConvStrided.RunBlocks(a, h, w, cin, wt, cout, k, za, zw, scale, o, bits);
                AssertExactSum(o);
            }
        void AssertExactSum(float[] actual)
        {
            for (int oy = 0; oy < oh; oy++)
                for (int ox = 0; ox < ow; ox++)
                    for (int co = 0; co < cout; co++)
                    {
                        long total = 0;   // Σ (a + za)(w + zw) over the taps inside the image
                        for (int ky = 0; ky < k; ky++)
                            for (int kx = 0; kx < k; kx++)
                            {
                                int iy = oy * stride + ky - pad, ix = ox * stride + kx - pad;
                                if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                                for (int ci = 0; ci < cin; ci++)
                                    total += (long)(a[(iy * w + ix) * cin + ci] + za) * (wt[((co * cin + ci) * k + ky) * k + kx] + zw);
                            }
                        Assert.Equal((float)total * scale, actual[(oy * ow + ox) * cout + co]);
                    }
        }
    }

    [Fact]
    public void StridedConvOutputSizeFollowsPyTorch()
    {
        Assert.Equal(32, QuantConvStrided.OutputSize(96, 3, 3, 0));
        Assert.Equal(33, QuantConvStrided.OutputSize(101, 3, 3, 0));
        Assert.Equal(0, QuantConvStrided.OutputSize(2, 3, 3, 0));
        Assert.Equal(9, QuantConvStrided.OutputSize(9, 3, 1, 1));
    }
}
