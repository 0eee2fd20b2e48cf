using RefQsr.Engine.Metrics;

namespace RefQsr.Engine.Tests.Metrics;

public class BitOpsCounterTests
{
    [Fact]
    public void Fp32ConvScoresItsFlops()
    {
        var counter = new BitOpsCounter();
        counter.AddConv(1000, 32, 32);
        Assert.Equal(2000, counter.BitOps);
        Assert.Equal(1000, counter.Macs);
    }

    [Fact]
    public void QuantizedConvScalesByBothBitWidths()
    {
        var counter = new BitOpsCounter();
        counter.AddConv(1024, 8, 4); // 2 * 1024 * 8/32 * 4/32
        Assert.Equal(64, counter.BitOps);
    }

    [Fact]
    public void MixedPerPatchItemsAddUp()
    {
        // the shape RefQSR accounting will use: per-patch convs at their own bits,
        // RefER convs at b_high, the cost volume at b_low, ClustBlock at 8 bits
        var patch = new BitOpsCounter();
        patch.AddConvs(2, 100, 8, 8);
        patch.AddConvs(26, 100, 6, 4);
        patch.AddConv(50, 4, 4);
        patch.AddConv(10, 8, 8);
        var image = new BitOpsCounter();
        image.Add(patch);
        image.Add(patch);
        double expected = 2 * 2.0 * ((2 * 100 * 64) + (26 * 100 * 24) + (50 * 16) + (10 * 64)) / 1024;
        Assert.Equal(expected, image.BitOps, 12);
        Assert.Equal(2 * (2 * 100 + 26 * 100 + 50 + 10), image.Macs);
    }

    [Theory]
    [InlineData(-1, 8, 8)]
    [InlineData(10, 0, 8)]
    [InlineData(10, 8, 33)]
    public void RejectsBadArguments(long macs, int weightBits, int activationBits)
    {
        Assert.Throws<ArgumentException>(() => new BitOpsCounter().AddConv(macs, weightBits, activationBits));
    }
}
