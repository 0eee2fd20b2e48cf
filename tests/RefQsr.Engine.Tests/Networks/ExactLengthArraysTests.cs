using RefQsr.Engine.Networks;
using RefQsr.Engine.Weights;

namespace RefQsr.Engine.Tests.Networks;

/// <summary>A forward reuses arrays a previous patch gave back (<see cref="ExactLengthArrays"/>)
/// without clearing them: every such array must be written in full before it is read.</summary>
public class ExactLengthArraysTests
{
    // a size no other test uses, so that a test running beside this one takes none of the arrays set here
    const int H = 7, W = 17;

    [Theory]
    [InlineData(QuantizerKind.None, 8)]
    [InlineData(QuantizerKind.Ddtb, 4)]   // with gated quantizers: channel means over the whole residual stream
    [InlineData(QuantizerKind.Pams, 8)]
    public void AForwardOnPoisonedReusedArraysGivesTheSameBytes(QuantizerKind kind, int bits)
    {
        var net = SrResNet.Load(TestModels.File(TestModels.Config(kind, bits, blocks: 2, gated: kind == QuantizerKind.Ddtb ? [0, 3] : null)));
        var lr = TestModels.Image(H, W, seed: 9);
        var first = net.Forward(lr, H, W);
        var expected = (float[])first.Clone();
        ExactLengthArrays.Return(first);

        // what a previous patch of this size leaves behind, filled with NaN: the head output
        // and the residual stream (the same length), and the HR output
        int feature = H * W * net.Config.Channels, hr = 16 * H * W * 3;
        var poisoned = new[] { feature, feature, hr }.Select(n => Enumerable.Repeat(float.NaN, n).ToArray()).ToList();
        foreach (var a in poisoned) ExactLengthArrays.Return(a);
        var again = net.Forward(lr, H, W, threads: 2);

        Assert.Contains(poisoned, a => ReferenceEquals(a, again));   // the reused HR array: the cache was used
        Assert.Equal(expected, again);
    }

    [Fact]
    public void RentGivesBackOnlyAnArrayOfTheExactLength()
    {
        var a = new float[1001];
        ExactLengthArrays.Return(a);
        var other = ExactLengthArrays.Rent(1000);
        Assert.False(ReferenceEquals(a, other));
        Assert.Equal(1000, other.Length);
        Assert.Same(a, ExactLengthArrays.Rent(1001));
    }

    [Fact]
    public void AFullCollectionDropsArraysLeftIdleTooLong()
    {
        var a = new float[1003];
        long idle = ExactLengthArrays.MaxIdleMilliseconds;
        try
        {
            ExactLengthArrays.Return(a);
            Thread.Sleep(20);
            ExactLengthArrays.MaxIdleMilliseconds = 10;
            GC.Collect();
            GC.WaitForPendingFinalizers();
            Assert.NotSame(a, ExactLengthArrays.Rent(1003));
        }
        finally { ExactLengthArrays.MaxIdleMilliseconds = idle; }
    }
}
