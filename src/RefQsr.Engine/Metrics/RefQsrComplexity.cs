using RefQsr.Engine.Networks;
using RefQsr.Engine.RefQsr;
using RefQsr.Engine.Tiling;
using RefQsr.Engine.Weights;

namespace RefQsr.Engine.Metrics;

/// <summary>BitOPs and FQR of a RefQSR run (docs/refqsr.md "Complexity", SPEC §7). Per
/// patch: block 0 (2 convs, b_high²); a reference's blocks 1..end (b_high²); a query's
/// low blocks (b_medium x b_low), its RefER convs (b_high², query area) and its cost
/// volumes (hq·wq·hr·wr·C MACs per RefER block, b_low²); plus the ClustBlock on every
/// patch at 8 x 8. FQR: mean activation bit-width over a patch's quantized 3x3 convs,
/// then over patches.</summary>
public static class RefQsrComplexity
{
    public static (BitOpsCounter BitOps, FqrCounter Fqr) Compute(ModelConfig model, int clustClasses, PatchGrid grid, ClusterAssignment clusters)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(grid);
        ArgumentNullException.ThrowIfNull(clusters);
        var s = model.RefQsr ?? throw new ArgumentException($"{model.Describe()} is not a RefQSR model");
        if (clusters.PatchCount != grid.Patches.Count)
            throw new ArgumentException($"the clusters cover {clusters.PatchCount} patches, the grid has {grid.Patches.Count}");
        int ch = model.Channels, blocks = model.Blocks, refEr = s.RefErBlocks.Count, low = s.FirstRefEr - 1;
        var bitOps = new BitOpsCounter();
        var fqr = new FqrCounter();
        for (int i = 0; i < grid.Patches.Count; i++)
        {
            var p = grid.Patches[i];
            long conv = Complexity.Conv3x3Macs(p.Width, p.Height, ch, ch);
            bitOps.AddConv(ClustBlock.Macs(p.Width, p.Height, clustClasses), ClustBlock.Bits, ClustBlock.Bits);
            bitOps.AddConvs(2, conv, s.BHigh, s.BHigh);
            if (clusters.IsReference(i))
            {
                bitOps.AddConvs(2 * (blocks - 1), conv, s.BHigh, s.BHigh);
                fqr.AddPatch(Enumerable.Repeat(s.BHigh, 2 * blocks).ToArray());
                continue;
            }
            var r = grid.Patches[clusters.ReferenceOf[i]];
            bitOps.AddConvs(2 * low, conv, s.BMedium, s.BLow);
            bitOps.AddConvs(2 * refEr, conv, s.BHigh, s.BHigh);
            bitOps.AddConvs(refEr, CostVolumeMacs(p, r, ch), s.BLow, s.BLow);
            fqr.AddPatch([.. Enumerable.Repeat(s.BHigh, 2), .. Enumerable.Repeat(s.BLow, 2 * low), .. Enumerable.Repeat(s.BHigh, 2 * refEr)]);
        }
        return (bitOps, fqr);
    }

    /// <summary>MACs of one RefER cost volume: hq·wq·hr·wr·C over the pooled (3x3/3) grids.</summary>
    public static long CostVolumeMacs(Patch query, Patch reference, int channels)
        => checked((long)RefErMatching.PooledSize(query.Height) * RefErMatching.PooledSize(query.Width)
            * RefErMatching.PooledSize(reference.Height) * RefErMatching.PooledSize(reference.Width) * channels);
}
