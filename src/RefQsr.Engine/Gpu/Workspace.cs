using ILGPU;
using ILGPU.Runtime;
using RefQsr.Kernels.Gpu;

namespace RefQsr.Engine.Gpu;

/// <summary>The device buffers of a batch of forward passes at one LR size, kept between calls
/// of the same size (patches are mostly one size) so a batch costs no device allocation. The
/// buffers hold up to <see cref="Capacity"/> samples one after the other (NHWC); the views
/// cover the <see cref="Count"/> samples of the current batch.</summary>
internal sealed class Workspace : IDisposable
{
    public int Height { get; }
    public int Width { get; }
    public int Channels { get; }
    /// <summary>The most samples the buffers hold.</summary>
    public int Capacity { get; }
    /// <summary>Samples in the current batch (set by the forward that uses the workspace).</summary>
    public int Count
    {
        get => count;
        set => count = value >= 1 && value <= Capacity ? value : throw new ArgumentOutOfRangeException(nameof(value), $"a batch of {value} does not fit a workspace of {Capacity}");
    }
    int count = 1;

    readonly MemoryBuffer1D<float, Stride1D.Dense> input, headOut, x, y, z, means, up0, shuffled0, up1, shuffled1, hr;
    readonly MemoryBuffer1D<int, Stride1D.Dense> codes, acc, codeSums;
    readonly MemoryBuffer1D<QuantizerArgs, Stride1D.Dense> quantizers;
    readonly MemoryBuffer1D<QuantZeroPoints, Stride1D.Dense> zeroPoints;
    readonly MemoryBuffer1D<float, Stride1D.Dense> norms, pooledFlow, flow;
    readonly MemoryBuffer1D<int, Stride1D.Dense> matchCodes, argmax;
    readonly List<IDisposable> all = [];

    /// <summary>LR pixels of one sample.</summary>
    public int Pixels => Height * Width;

    public ArrayView<float> Input => Batch(input, 3);
    public ArrayView<float> HeadOut => Batch(headOut, Channels);
    public ArrayView<float> X => Batch(x, Channels);
    public ArrayView<float> Y => Batch(y, Channels);
    public ArrayView<float> Z => Batch(z, Channels);
    /// <summary>Per sample, the C channel means of a DDTB-gated quantizer's input.</summary>
    public ArrayView<float> Means => means.View.SubView(0, (long)Count * Channels);
    public ArrayView<float> Up0 => Batch(up0, 4 * Channels);
    public ArrayView<float> Shuffled0 => Batch(shuffled0, 4 * Channels);
    public ArrayView<float> Up1 => Batch(up1, 16 * Channels);
    public ArrayView<float> Shuffled1 => Batch(shuffled1, 16 * Channels);
    public ArrayView<float> Hr => Batch(hr, 48);
    public ArrayView<int> Codes => Batch(codes, Channels / 4);
    public ArrayView<int> Acc => Batch(acc, Channels);
    /// <summary>Per pixel, the sum of its valid taps' codes (written by the conv, read by its epilogue).</summary>
    public ArrayView<int> CodeSums => Batch(codeSums, 1);
    /// <summary>Per sample, the activation quantizer and the epilogue's constants of a gated conv.</summary>
    public ArrayView<QuantizerArgs> Quantizers => quantizers.View.SubView(0, Count);
    public ArrayView<QuantZeroPoints> ZeroPoints => zeroPoints.View.SubView(0, Count);

    /// <summary>RefER scratch for one sample at a time: per-pixel norms, the query's pooled match
    /// codes, the argmax, the pooled and the pixel flow.</summary>
    public ArrayView<float> Norms => norms.View;
    public ArrayView<float> PooledFlow => pooledFlow.View;
    public ArrayView<float> Flow => flow.View;
    public ArrayView<int> MatchCodes => matchCodes.View;
    public ArrayView<int> Argmax => argmax.View;

    /// <summary>Sample <paramref name="n"/> of a batch view with <paramref name="perPixel"/> values per LR pixel
    /// (scaled views such as Up1 pass their own per-LR-pixel count).</summary>
    public ArrayView<T> Sample<T>(ArrayView<T> view, int n, int perPixel) where T : unmanaged
        => view.SubView((long)n * Pixels * perPixel, (long)Pixels * perPixel);

    public Workspace(Accelerator a, int h, int w, int ch, int capacity)
    {
        Height = h; Width = w; Channels = ch; Capacity = capacity;
        long px = (long)h * w * capacity;
        MemoryBuffer1D<T, Stride1D.Dense> B<T>(long n) where T : unmanaged { var b = a.Allocate1D<T>(n); all.Add(b); return b; }
        try
        {
            input = B<float>(px * 3);
            headOut = B<float>(px * ch); x = B<float>(px * ch); y = B<float>(px * ch); z = B<float>(px * ch);
            means = B<float>((long)capacity * ch);
            codes = B<int>(px * ch / 4); acc = B<int>(px * ch); codeSums = B<int>(px);
            up0 = B<float>(px * 4 * ch); shuffled0 = B<float>(px * 4 * ch);
            up1 = B<float>(px * 16 * ch); shuffled1 = B<float>(px * 16 * ch);
            hr = B<float>(px * 48);
            quantizers = B<QuantizerArgs>(capacity); zeroPoints = B<QuantZeroPoints>(capacity);
            long one = (long)h * w, pooled = Math.Max(1L, (long)(h / 3) * (w / 3));
            norms = B<float>(one); flow = B<float>(one * 2); pooledFlow = B<float>(pooled * 2);
            matchCodes = B<int>(pooled * ch / 4); argmax = B<int>(pooled);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>Device bytes one sample of an h x w LR patch needs (the batch buffers above).</summary>
    public static long BytesPerSample(int h, int w, int ch) => (long)h * w * 4 * (3 + 4L * ch + 8L * ch + 32L * ch + 48 + ch / 4 + ch + 1) + 4L * ch + 64;

    ArrayView<T> Batch<T>(MemoryBuffer1D<T, Stride1D.Dense> buffer, int perPixel) where T : unmanaged
        => buffer.View.SubView(0, (long)Count * Pixels * perPixel);

    public void Dispose()
    {
        foreach (var b in all) b.Dispose();
    }
}
