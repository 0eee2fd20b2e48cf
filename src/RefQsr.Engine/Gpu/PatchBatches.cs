using RefQsr.Engine.Imaging;
using RefQsr.Engine.Inference;
using RefQsr.Engine.Tiling;

namespace RefQsr.Engine.Gpu;

/// <summary>Patches grouped for the device's batched forwards: a grid has at most four patch
/// sizes (interior, and the stretched last column, last row and corner), and one batch runs
/// patches of one size.</summary>
internal static class PatchBatches
{
    /// <summary>The given patch indices grouped by patch size, in order of first appearance; each
    /// group keeps the indices' order.</summary>
    public static IEnumerable<(int Height, int Width, int[] Indices)> BySize(IReadOnlyList<Patch> patches, IEnumerable<int> indices)
        => indices.GroupBy(i => (patches[i].Height, patches[i].Width)).Select(g => (g.Key.Height, g.Key.Width, g.ToArray()));

    /// <summary>The LR floats (HWC, 0..255) of those patches, one after the other.</summary>
    public static float[] Inputs(RgbImage lr, IReadOnlyList<Patch> patches, int[] indices)
    {
        var first = patches[indices[0]];
        int size = first.Width * first.Height * 3;
        var all = new float[(long)size * indices.Length];
        for (int k = 0; k < indices.Length; k++)
        {
            var p = patches[indices[k]];
            Upscaler.ToFloats(lr, p.X, p.Y, p.Width, p.Height).CopyTo(all, (long)k * size);
        }
        return all;
    }
}
