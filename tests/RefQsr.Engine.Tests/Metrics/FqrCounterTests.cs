using RefQsr.Engine.Metrics;

namespace RefQsr.Engine.Tests.Metrics;

public class FqrCounterTests
{
    [Fact]
    public void UniformNetworkHasItsBitWidth()
    {
        var fqr = new FqrCounter();
        fqr.AddPatch(Enumerable.Repeat(8, 32).ToArray());
        fqr.AddPatch(Enumerable.Repeat(8, 32).ToArray());
        Assert.Equal(8.0, fqr.Fqr);
    }

    [Fact]
    public void PatchesCountEquallyAndConvsAverageWithinAPatch()
    {
        // a RefQSR-like query: 2 convs at 8 bits, 26 at 4, 4 RefER convs at 8 -> 152/32 = 4.75;
        // a reference: all 32 at 8 -> 8.0; the image: (4.75 + 8) / 2
        int[] query = [.. Enumerable.Repeat(8, 2), .. Enumerable.Repeat(4, 26), .. Enumerable.Repeat(8, 4)];
        var fqr = new FqrCounter();
        fqr.AddPatch(query);
        fqr.AddPatch(Enumerable.Repeat(8, 32).ToArray());
        Assert.Equal(2, fqr.PatchCount);
        Assert.Equal(6.375, fqr.Fqr, 12);
    }

    [Fact]
    public void DataSetValueIsTheMeanOfImageValues()
    {
        Assert.Equal(6.0, FqrCounter.MeanOverImages([5.0, 7.0]), 12);
        Assert.Throws<ArgumentException>(() => FqrCounter.MeanOverImages([]));
    }

    [Fact]
    public void RejectsEmptyOrInvalidInput()
    {
        var fqr = new FqrCounter();
        Assert.Throws<InvalidOperationException>(() => fqr.Fqr);
        Assert.Throws<ArgumentException>(() => fqr.AddPatch([]));
        Assert.Throws<ArgumentException>(() => fqr.AddPatch([8, 0]));
    }
}
