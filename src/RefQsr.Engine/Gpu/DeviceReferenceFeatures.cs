using ILGPU;
using ILGPU.Runtime;

namespace RefQsr.Engine.Gpu;

/// <summary>A reference patch's features kept on the device for its queries (the twin of
/// SrResNet.ReferenceFeatures): its input to each RefER block and, computed once for all its
/// queries, that input's pooled b_low match codes (docs/refqsr.md steps 1–3).</summary>
internal sealed class DeviceReferenceFeatures : IDisposable
{
    public int Height { get; }
    public int Width { get; }
    public int PooledHeight => Height / 3;
    public int PooledWidth => Width / 3;
    /// <summary>Whether the feature has a pooled grid (at least 3x3 px).</summary>
    public bool HasPooledGrid => PooledHeight > 0 && PooledWidth > 0;
    /// <summary>Per RefER block (order of refer_blocks): the feature, HWC floats.</summary>
    public IReadOnlyList<MemoryBuffer1D<float, Stride1D.Dense>> Inputs => inputs;
    /// <summary>Per RefER block: the pooled codes [PooledHeight·PooledWidth][C/4] (empty without a pooled grid).</summary>
    public IReadOnlyList<MemoryBuffer1D<int, Stride1D.Dense>> MatchCodes => matchCodes;
    readonly List<MemoryBuffer1D<float, Stride1D.Dense>> inputs = [];
    readonly List<MemoryBuffer1D<int, Stride1D.Dense>> matchCodes = [];

    public DeviceReferenceFeatures(Accelerator a, int height, int width, int channels, int blocks)
    {
        Height = height; Width = width;
        long pooledWords = Math.Max(1L, (long)PooledHeight * PooledWidth * channels / 4);
        try
        {
            for (int k = 0; k < blocks; k++)
            {
                inputs.Add(a.Allocate1D<float>((long)height * width * channels));
                matchCodes.Add(a.Allocate1D<int>(pooledWords));
            }
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        foreach (var b in inputs) b.Dispose();
        foreach (var b in matchCodes) b.Dispose();
        inputs.Clear();
        matchCodes.Clear();
    }
}
