using RefQsr.Engine.Imaging;
using RefQsr.Engine.Inference;
using RefQsr.Engine.Networks;
using RefQsr.Engine.Weights;

namespace RefQsr.Engine.Tests.Upscaling;

/// <summary>One loaded model serves many callers at once (a server shares it across
/// requests): runs started together on different threads, each with its own image and
/// thread count, give the bytes each gives alone. A freshly loaded model is used, so what
/// the weights make on first use (the epilogue's border tap sums, F(2x2) Winograd weights)
/// is made while the runs race for it.</summary>
public sealed class ConcurrentRunsTests
{
    static RgbImage Lr(int w, int h, int seed) => new(w, h, TestModels.Image(h, w, seed).Select(v => (byte)v).ToArray());

    static void SameBytesAsAlone(Func<RgbImage, UpscaleOptions, RgbImage> fresh, Func<RgbImage, UpscaleOptions, RgbImage> shared)
    {
        var images = Enumerable.Range(0, 4).Select(i => Lr(34 + 6 * i, 30, i + 1)).ToArray();
        var alone = images.Select(im => fresh(im, new UpscaleOptions { PatchSize = 16 }).Pixels).ToArray();
        var together = new byte[8][];
        using var start = new Barrier(8);
        var threads = Enumerable.Range(0, 8).Select(k => new Thread(() =>
        {
            start.SignalAndWait();
            together[k] = shared(images[k % 4], new UpscaleOptions { PatchSize = 16, Threads = 1 + k / 4 }).Pixels;
        })).ToArray();
        foreach (var t in threads) t.Start();
        foreach (var t in threads) t.Join();
        for (int k = 0; k < 8; k++) Assert.Equal(alone[k % 4], together[k]);
    }

    [Fact]
    public void PlainModel()
    {
        var cfg = TestModels.Config(QuantizerKind.Ddtb, 4, blocks: 2, gated: [1]);
        var shared = new Upscaler(SrResNet.Load(TestModels.File(cfg)));
        SameBytesAsAlone((im, o) => new Upscaler(SrResNet.Load(TestModels.File(cfg))).Run(im, o).Image, (im, o) => shared.Run(im, o).Image);
    }

    [Fact]
    public void RefQsrModel()
    {
        var cfg = TestModels.RefQsrConfig(QuantizerKind.Ddtb, 8, 4, gated: [0, 3]);
        var cb = TestModels.File(TestModels.ClustBlockConfig());
        RefQsrUpscaler Load() => new(SrResNet.Load(TestModels.File(cfg)), ClustBlock.Load(cb));
        var shared = Load();
        SameBytesAsAlone((im, o) => Load().Run(im, o).Image, (im, o) => shared.Run(im, o).Image);
    }
}
