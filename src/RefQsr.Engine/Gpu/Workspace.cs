using ILGPU;
using ILGPU.Runtime;

namespace RefQsr.Engine.Gpu;

/// <summary>The device buffers of one forward pass at one LR size, kept between calls of the
/// same size (patches are mostly one size) so a patch costs no device allocation.</summary>
internal sealed class Workspace : IDisposable
{
    public int Height { get; }
    public int Width { get; }
    public MemoryBuffer1D<float, Stride1D.Dense> Input, HeadOut, X, Y, Z, Means, Up0, Shuffled0, Up1, Shuffled1, Hr;
    public MemoryBuffer1D<int, Stride1D.Dense> Codes, Acc;
    /// <summary>RefER scratch: per-pixel norms, the query's pooled match codes, the argmax,
    /// the pooled and the pixel flow.</summary>
    public MemoryBuffer1D<float, Stride1D.Dense> Norms, PooledFlow, Flow;
    public MemoryBuffer1D<int, Stride1D.Dense> MatchCodes, Argmax;
    readonly List<IDisposable> all = [];

    public Workspace(Accelerator a, int h, int w, int ch)
    {
        Height = h; Width = w;
        long px = (long)h * w;
        MemoryBuffer1D<float, Stride1D.Dense> F(long n) { var b = a.Allocate1D<float>(n); all.Add(b); return b; }
        MemoryBuffer1D<int, Stride1D.Dense> I(long n) { var b = a.Allocate1D<int>(n); all.Add(b); return b; }
        Input = F(px * 3);
        HeadOut = F(px * ch); X = F(px * ch); Y = F(px * ch); Z = F(px * ch);
        Means = F(ch);
        Codes = I(px * ch / 4); Acc = I(px * ch);
        Up0 = F(px * 4 * ch); Shuffled0 = F(px * 4 * ch);
        Up1 = F(px * 16 * ch); Shuffled1 = F(px * 16 * ch);
        Hr = F(px * 16 * 3);
        long pooled = Math.Max(1L, (long)(h / 3) * (w / 3));
        Norms = F(px); Flow = F(px * 2); PooledFlow = F(pooled * 2);
        MatchCodes = I(pooled * ch / 4); Argmax = I(pooled);
    }

    public void Dispose()
    {
        foreach (var b in all) b.Dispose();
    }
}
