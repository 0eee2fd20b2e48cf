using RefQsr.Engine.Imaging;
using RefQsr.Engine.Inference;
using RefQsr.Engine.RefQsr;
using RefQsr.Engine.Tiling;

namespace RefQsr.Engine.Gpu;

/// <summary>The RefQSR patch schedule on one device (docs/refqsr.md, docs/gpu.md): the
/// references first, each keeping its inputs to the RefER blocks on the device when a query
/// points at it, then the queries against those features. Patches run one after the other,
/// each forward entirely on the device; a reference's features are freed after its last
/// query.</summary>
internal static class GpuRefQsrSchedule
{
    /// <summary>The float HR patches in grid order, as RefQsrUpscaler.RunPatches computes them.</summary>
    public static float[][] Run(GpuSrResNet gpu, RgbImage lr, PatchGrid grid, ClusterAssignment clusters)
    {
        if (clusters.PatchCount != grid.Patches.Count)
            throw new ArgumentException($"the clusters cover {clusters.PatchCount} patches, the grid has {grid.Patches.Count}");
        int n = grid.Patches.Count;
        var hr = new float[n][];
        var features = new DeviceReferenceFeatures?[n];
        var queriesLeft = new int[n];
        foreach (int q in clusters.Queries) queriesLeft[clusters.ReferenceOf[q]]++;
        try
        {
            foreach (int i in clusters.References)
            {
                var p = grid.Patches[i];
                (hr[i], features[i]) = gpu.ForwardReference(Upscaler.ToFloats(lr, p.X, p.Y, p.Width, p.Height), p.Height, p.Width, queriesLeft[i] > 0);
            }
            foreach (int i in clusters.Queries)
            {
                var p = grid.Patches[i];
                int r = clusters.ReferenceOf[i];
                hr[i] = gpu.ForwardQuery(Upscaler.ToFloats(lr, p.X, p.Y, p.Width, p.Height), p.Height, p.Width, features[r]!);
                if (--queriesLeft[r] == 0)
                {
                    features[r]!.Dispose();
                    features[r] = null;
                }
            }
            return hr;
        }
        finally
        {
            foreach (var f in features) f?.Dispose();
        }
    }
}
