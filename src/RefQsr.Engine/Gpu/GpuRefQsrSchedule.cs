using RefQsr.Engine.Imaging;
using RefQsr.Engine.Inference;
using RefQsr.Engine.RefQsr;
using RefQsr.Engine.Tiling;

namespace RefQsr.Engine.Gpu;

/// <summary>The RefQSR patch schedule on one device (docs/refqsr.md, docs/gpu.md): the
/// references first, batched by patch size, each keeping its inputs to the RefER blocks on the
/// device when a query points at it; then the queries, batched by patch size, against those
/// features. A reference's features are freed after its last query's batch.</summary>
internal static class GpuRefQsrSchedule
{
    /// <summary>The float HR patches in grid order, as RefQsrUpscaler.RunPatches computes them.
    /// <paramref name="run"/>, if given, is checked for cancellation before every batch and
    /// told of every finished batch.</summary>
    public static float[][] Run(GpuSrResNet gpu, RgbImage lr, PatchGrid grid, ClusterAssignment clusters, PatchRun? run = null)
    {
        if (clusters.PatchCount != grid.Patches.Count)
            throw new ArgumentException($"the clusters cover {clusters.PatchCount} patches, the grid has {grid.Patches.Count}");
        var patches = grid.Patches;
        int n = patches.Count;
        var hr = new float[n][];
        var features = new DeviceReferenceFeatures?[n];
        var queriesLeft = new int[n];
        foreach (int q in clusters.Queries) queriesLeft[clusters.ReferenceOf[q]]++;
        try
        {
            foreach (var (h, w, refs) in PatchBatches.BySize(patches, clusters.References))
            {
                run?.ThrowIfCancelled();
                var (hrs, kept) = gpu.ForwardReferenceBatch(PatchBatches.Inputs(lr, patches, refs), refs.Length, h, w,
                    refs.Select(i => queriesLeft[i] > 0).ToArray());
                for (int k = 0; k < refs.Length; k++) (hr[refs[k]], features[refs[k]]) = (hrs[k], kept[k]);
                run?.Finished(refs.Length);
            }
            foreach (var (h, w, queries) in PatchBatches.BySize(patches, clusters.Queries))
            {
                run?.ThrowIfCancelled();
                var hrs = gpu.ForwardQueryBatch(PatchBatches.Inputs(lr, patches, queries), queries.Length, h, w,
                    queries.Select(i => features[clusters.ReferenceOf[i]]!).ToArray());
                for (int k = 0; k < queries.Length; k++)
                {
                    int q = queries[k], r = clusters.ReferenceOf[q];
                    hr[q] = hrs[k];
                    if (--queriesLeft[r] == 0)
                    {
                        features[r]!.Dispose();
                        features[r] = null;
                    }
                }
                run?.Finished(queries.Length);
            }
            return hr;
        }
        finally
        {
            foreach (var f in features) f?.Dispose();
        }
    }
}
