using RefQsr.Engine.Imaging;
using RefQsr.Engine.Inference;
using RefQsr.Engine.Metrics;
using RefQsr.Engine.Networks;
using RefQsr.Engine.RefQsr;
using RefQsr.Engine.Tiling;
using RefQsr.Engine.Weights;

namespace RefQsr.Engine.Tests.RefQsr;

public class RefQsrUpscalerTests
{
    static RefQsrUpscaler Upscaler(QuantizerKind q = QuantizerKind.Ddtb, int bHigh = 8, int bLow = 4)
        => new(SrResNet.Load(TestModels.File(TestModels.RefQsrConfig(q, bHigh, bLow, gated: q == QuantizerKind.Ddtb ? [0, 3] : null))),
               ClustBlock.Load(TestModels.File(TestModels.ClustBlockConfig())));

    static RgbImage Lr(int w, int h)
    {
        var f = TestModels.Image(h, w);
        return new RgbImage(w, h, f.Select(v => (byte)v).ToArray());
    }

    // 40x31 LR with 16-px patches: 3x2 grid (starts 0, 10, 20 / 0, 10), border patches stretched
    static readonly UpscaleOptions Patches16 = new() { PatchSize = 16 };
    static readonly ClusterAssignment Pairing = new([0, 0, 5, 1, 5, 5]);   // refs 0, 1, 5; queries 2→5, 3→1, 4→5

    [Fact]
    public void OutputDoesNotDependOnTheThreadCount()
    {
        var u = Upscaler();
        var lr = Lr(40, 31);
        var one = u.Run(lr, Patches16);
        Assert.Equal(6, one.Grid.Patches.Count);
        Assert.NotNull(one.Clusters);
        foreach (int t in new[] { 2, 3, 8 })
        {
            var r = u.Run(lr, Patches16 with { Threads = t });
            Assert.Equal(one.Image.Pixels, r.Image.Pixels);
            Assert.Equal(one.Clusters!.ReferenceOf, r.Clusters!.ReferenceOf);
            Assert.Equal(one.GigaBitOps, r.GigaBitOps);
        }
        // three references: on 2 and 3 threads one stream of references then queries, each
        // query waiting only for its own reference; on 4 the batches with conv rows split
        var forced = u.Run(lr, Patches16, Pairing);
        foreach (int t in new[] { 2, 3, 4 })
            Assert.Equal(forced.Image.Pixels, u.Run(lr, Patches16 with { Threads = t }, Pairing).Image.Pixels);
    }

    [Theory]
    [InlineData(QuantizerKind.Ddtb, 8, 4)]
    [InlineData(QuantizerKind.Pams, 4, 3)]
    public void ReferencesEqualThePlainBHighForwardAndQueriesFollowTheirPath(QuantizerKind q, int bHigh, int bLow)
    {
        var u = Upscaler(q, bHigh, bLow);
        var lr = Lr(40, 31);
        var grid = RefQsrUpscaler.Grid(lr, Patches16);
        var hr = u.RunPatches(lr, grid, Pairing, 2);
        var net = u.Network;
        Assert.Equal(new BlockPrecision(bHigh, bHigh), net.DefaultPrecision);
        foreach (int i in Pairing.References)
        {
            var p = grid.Patches[i];
            Assert.Equal(net.Forward(Inference.Upscaler.ToFloats(lr, p.X, p.Y, p.Width, p.Height), p.Height, p.Width), hr[i]);
        }
        // a query, step by step: block 0 b_high, blocks 1..1 at (b_medium, b_low) with qlow, RefER 2 and 3
        var qp = grid.Patches[4];
        var rp = grid.Patches[5];
        var (_, feats) = net.ForwardReference(Inference.Upscaler.ToFloats(lr, rp.X, rp.Y, rp.Width, rp.Height), rp.Height, rp.Width, 1);
        var s = net.Config.RefQsr!;
        var input = Inference.Upscaler.ToFloats(lr, qp.X, qp.Y, qp.Width, qp.Height);
        var head = net.Head(input, qp.Height, qp.Width, 1);
        var x = (float[])head.Clone();
        var trace = new ForwardTrace();
        net.Blocks[0].Forward(x, qp.Height, qp.Width, new BlockPrecision(bHigh, bHigh), 1, trace, 0);
        var b1 = net.Blocks[1];
        b1.Forward(x, qp.Height, qp.Width, new BlockPrecision(s.BMedium, bLow), b1.QLow1, b1.QLow2, 1, trace, "body.1.qlow");
        Assert.True(trace.Codes["body.1.qlow1"].Max() < 1 << bLow);
        net.RefEr[0].Forward(x, qp.Height, qp.Width, feats.RefErInputs[0], rp.Height, rp.Width, bHigh, bLow, 1, null);
        net.RefEr[1].Forward(x, qp.Height, qp.Width, feats.RefErInputs[1], rp.Height, rp.Width, bHigh, bLow, 1, null);
        Assert.Equal(net.BodyEndAndTail(x, head, qp.Height, qp.Width, 1), hr[4]);
        // and it differs from the plain b_high forward of the same patch
        Assert.NotEqual(net.Forward(input, qp.Height, qp.Width), hr[4]);
    }

    [Fact]
    public void AllReferencesReproducesThePlainUpscaler()
    {
        var u = Upscaler();
        var lr = Lr(40, 31);
        var mine = u.Run(lr, Patches16, ClusterAssignment.AllReferences(6));
        var plain = new Inference.Upscaler(u.Network).Run(lr, Patches16);
        Assert.Equal(plain.Image.Pixels, mine.Image.Pixels);
        Assert.Equal(1.0, mine.ReferenceRatio);
        Assert.Equal(8.0, mine.Fqr);
    }

    [Fact]
    public void ComplexityByHandForASmallGrid()
    {
        var u = Upscaler(QuantizerKind.Ddtb, 8, 4);        // 4 blocks: 0 high, 1 low (w6 a4), RefER 2, 3
        var grid = PatchGrid.Create(40, 31, 16);
        // patch sizes: columns 16, 16, 20 wide (x 0, 10, 20); rows 16, 21 high (y 0, 10)
        int[] ws = [16, 16, 20, 16, 16, 20], hs = [16, 16, 16, 21, 21, 21];
        Assert.Equal(ws, grid.Patches.Select(p => p.Width));
        Assert.Equal(hs, grid.Patches.Select(p => p.Height));
        var (g, fqr) = u.Cost(grid, Pairing);
        Int128 bitMacs = 0;
        long Conv(int i) => (long)ws[i] * hs[i] * 64 * 64 * 9;
        long Clust(int i) { long a = (long)((ws[i] - 3) / 3 + 1) * ((hs[i] - 3) / 3 + 1); return a * 64 * 27 + a * 64 * 64 * 9 + a * 32 * 64 * 9 + 32 * 10; }
        long Pool(int i) => (long)(ws[i] / 3) * (hs[i] / 3);
        for (int i = 0; i < 6; i++)
        {
            bitMacs += (Int128)Clust(i) * 64;
            if (Pairing.IsReference(i)) bitMacs += (Int128)8 * Conv(i) * 64;           // 8 convs at 8x8
            else
            {
                int r = Pairing.ReferenceOf[i];
                bitMacs += (Int128)2 * Conv(i) * 64 + (Int128)2 * Conv(i) * 24   // block 0; block 1 at w6 a4
                         + (Int128)4 * Conv(i) * 64                               // RefER convs at 8x8
                         + (Int128)2 * Pool(i) * Pool(r) * 64 * 16;              // 2 cost volumes at 4x4
            }
        }
        Assert.Equal((double)(bitMacs * 2) / 1024 / 1e9, g, 15);
        Assert.Equal((3 * 8.0 + 3 * ((2 * 8 + 2 * 4 + 4 * 8) / 8.0)) / 6, fqr, 12);
        Assert.Equal(0.5, Pairing.ReferenceRatio);
    }

    [Fact]
    public void FullImageRunsAsOneReference()
    {
        var u = Upscaler();
        var r = u.Run(Lr(13, 11), new UpscaleOptions { FullImage = true });
        Assert.Equal((52, 44), (r.Image.Width, r.Image.Height));
        Assert.Equal(1.0, r.ReferenceRatio);
    }

    [Fact]
    public void RejectsAPlainModel()
    {
        var e = Assert.Throws<ArgumentException>(() => new RefQsrUpscaler(SrResNet.Load(TestModels.File(TestModels.Config(QuantizerKind.Ddtb, 8, 2))),
            ClustBlock.Load(TestModels.File(TestModels.ClustBlockConfig()))));
        Assert.Contains("RefQSR", e.Message);
    }
}
