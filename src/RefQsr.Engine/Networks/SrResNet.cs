using RefQsr.Engine.Diagnostics;
using RefQsr.Engine.Weights;
using RefQsr.Kernels;

namespace RefQsr.Engine.Networks;

/// <summary>SRResNet x4 (SPEC §2) on HWC float images in 0..255: FP32 head, body end,
/// upsampler and tail; the 32 ResBlock convs in integer arithmetic when the model is
/// quantized.</summary>
public sealed partial class SrResNet
{
    public ModelConfig Config { get; }
    public long ParameterCount { get; }
    readonly FloatConvWeights head, bodyEnd, up0, up1, tail;
    /// <summary>The upsampler convs in sub-pixel order for the fused conv + shuffle + PReLU
    /// (null where that kernel cannot run; the plain ones stay for that and the GPU).</summary>
    readonly FloatConvWeights? up0Fused, up1Fused;
    readonly float headSlope, up0Slope, up1Slope;
    readonly Affine bodyEndBn;
    /// <summary>The FP32 layers as loaded (PyTorch-order weights), for the GPU backend.</summary>
    internal FloatLayers Layers { get; }
    internal ResBlock[] Blocks { get; }
    /// <summary>RefQSR models: the RefER blocks, in the order of refer_blocks; empty otherwise.</summary>
    internal RefErBlock[] RefEr { get; }

    /// <summary>How the FP32 3x3 convs are computed (<see cref="FloatConvWeights.Algorithm"/>):
    /// Winograd where the CPU allows by default; <c>Direct</c> sums in the GPU backend's order,
    /// so that its HR floats are bit-identical to this engine's on AVX-512 CPUs.</summary>
    public FloatConvWeights.Algorithm FloatConvs { get; }

    SrResNet(ModelFile f, FloatConvWeights.Algorithm floatConvs)
    {
        Config = f.Config;
        FloatConvs = floatConvs;
        ParameterCount = f.ParameterCount;
        int ch = Config.Channels;
        foreach (var (name, t) in f.Tensors)
            foreach (var v in t.ToFloats())
                if (!float.IsFinite(v)) throw new WeightsFormatException($"tensor '{name}': holds a non-finite value ({v})");
        head = new FloatConvWeights(f.Floats("head.weight"), ch, 3, 9);
        headSlope = f.Scalar("head_act.weight");
        Blocks = Enumerable.Range(0, Config.Blocks).Select(i => ResBlock.Load(f, Config, i, floatConvs)).ToArray();
        bodyEnd = new FloatConvWeights(f.Floats("body_end.conv.weight"), ch, ch, 3, floatConvs);
        bodyEndBn = Affine.Load(f, "body_end.bn.");
        // the plain upsampler layouts run only where the fused kernel cannot (no AVX-512 and no
        // Winograd weights), and the Winograd path needs it: direct, so no second Winograd copy
        up0 = new FloatConvWeights(f.Floats("up.0.conv.weight"), 4 * ch, ch, 3, FloatConvWeights.Algorithm.Direct);
        up1 = new FloatConvWeights(f.Floats("up.1.conv.weight"), 4 * ch, ch, 3, FloatConvWeights.Algorithm.Direct);
        up0Fused = FusedUpsampler(f.Floats("up.0.conv.weight"), ch, floatConvs);
        up1Fused = FusedUpsampler(f.Floats("up.1.conv.weight"), ch, floatConvs);
        up0Slope = f.Scalar("up.0.act.weight");
        up1Slope = f.Scalar("up.1.act.weight");
        tail = new FloatConvWeights(f.Floats("tail.weight"), 3, ch, 9, floatConvs);
        Layers = new FloatLayers(new FloatConv(f.Floats("head.weight"), head), headSlope, new FloatConv(f.Floats("body_end.conv.weight"), bodyEnd), bodyEndBn,
            new FloatConv(f.Floats("up.0.conv.weight"), up0), up0Slope, new FloatConv(f.Floats("up.1.conv.weight"), up1), up1Slope,
            new FloatConv(f.Floats("tail.weight"), tail));
        RefEr = Config.RefQsr is { } r ? r.RefErBlocks.Select(j => RefErBlock.Load(f, Config, j)).ToArray() : [];
        QuantizeWeightsOnce();
    }

    static FloatConvWeights? FusedUpsampler(float[] oihw, int ch, FloatConvWeights.Algorithm floatConvs)
    {
        var w = new FloatConvWeights(PixelShuffle.SubPixelOrder(oihw, 4 * ch, 2), 4 * ch, ch, 3, floatConvs);
        return FloatConv2d.SubPixelSupported(w) ? w : null;
    }

    /// <summary>The integer conv path each quantized 3x3 conv takes on this CPU at its
    /// bit-widths' largest activation code (<see cref="QuantConv3x3.BestPath(QuantConvWeights, int)"/>;
    /// an input whose codes stay lower can only widen the choice), counted per role: the body
    /// at the model's bits (a RefQSR model's references, and its queries' block 0), RefQSR's
    /// query-path body convs at b_medium / b_low, and the RefER convs. Empty for FP32 models.</summary>
    public IReadOnlyList<ConvPathCount> ConvPaths()
    {
        var counts = new List<ConvPathCount>();
        if (!Config.IsQuantized) return counts;
        void Count(string role, IEnumerable<QuantizedConv> convs, int wBits, int aBits)
        {
            foreach (var g in convs.GroupBy(c => QuantConv3x3.BestPath(c.At(wBits).Weights, (1 << aBits) - 1)).OrderByDescending(g => g.Count()))
                counts.Add(new ConvPathCount(role, wBits, aBits, g.Key, g.Count()));
        }
        static IEnumerable<QuantizedConv> Both(IEnumerable<ResBlock> blocks) => blocks.SelectMany(b => new[] { b.Conv1, b.Conv2 });
        Count("body", Both(Blocks), Config.WeightBits, Config.ActivationBits);
        if (Config.RefQsr is { } r)
        {
            Count("queries", Both(Blocks.Where((_, i) => r.IsLowBlock(i))), r.BMedium, r.BLow);
            Count("RefER", RefEr.SelectMany(b => new[] { b.Conv1, b.Conv2 }), Config.WeightBits, Config.ActivationBits);
        }
        return counts;
    }

    /// <summary>How each FP32 conv runs on this CPU, in forward order: the head, the body
    /// end (and an FP32 model's ResBlocks), the two x2 upsampler steps and the tail, with the
    /// algorithm <see cref="FloatConv2d"/> takes for its weights (Winograd F(4x4, 3x3), the
    /// tail's row Winograd F(3, 3), or the direct sum; fused steps say with what).</summary>
    public IReadOnlyList<FloatConvPath> FloatConvPaths()
    {
        static string Algorithm(FloatConvWeights w)
            => w.UsesWinograd ? "Winograd F(4x4,3x3)" : w.UsesRgbWinograd ? "row Winograd F(3,3)" : "direct";
        int ch = Config.Channels;
        bool fuseTail = up1Fused is not null && FloatConv2d.SubPixel2ThenRgbSupported(up1Fused, tail);
        var paths = new List<FloatConvPath> { new("head", 9, 3, ch, Algorithm(head), 1) };
        if (!Config.IsQuantized)
            paths.Add(new("body", 3, ch, ch, Algorithm(Blocks[0].Float1), 2 * Blocks.Length));
        paths.Add(new("body end", 3, ch, ch, Algorithm(bodyEnd), 1));
        paths.Add(new("upsampler 1", 3, ch, 4 * ch, up0Fused is null ? Algorithm(up0) : Algorithm(up0Fused) + ", shuffle and PReLU in its store", 1));
        paths.Add(new("upsampler 2", 3, ch, 4 * ch, up1Fused is null ? Algorithm(up1) : Algorithm(up1Fused) + (fuseTail ? ", fused with the tail" : ", shuffle and PReLU in its store"), 1));
        paths.Add(new("tail", tail.Kernel, ch, 3, Algorithm(tail), 1));
        return paths;
    }

    /// <summary>The weight layouts this model runs with (integer ones per bit-width, or the
    /// FP32 ones), made at load so the first image pays nothing and
    /// <see cref="ResidentBytes"/> is complete.</summary>
    void QuantizeWeightsOnce()
    {
        if (!Config.IsQuantized)
        {
            foreach (var b in Blocks) _ = (b.Float1, b.Float2);   // FP32 models run the float layouts
            return;
        }
        int high = Config.WeightBits, act = Config.ActivationBits;
        for (int i = 0; i < Blocks.Length; i++)
        {
            Blocks[i].Conv1.At(high).Weights.PrepareFor(act);
            Blocks[i].Conv2.At(high).Weights.PrepareFor(act);
            if (Config.RefQsr is { } r && i >= 1 && i < r.RefErBlocks[0])
            {
                Blocks[i].Conv1.At(r.BMedium).Weights.PrepareFor(r.BLow);
                Blocks[i].Conv2.At(r.BMedium).Weights.PrepareFor(r.BLow);
            }
        }
        foreach (var b in RefEr)
        {
            b.Conv1.At(high).Weights.PrepareFor(act);
            b.Conv2.At(high).Weights.PrepareFor(act);
        }
        foreach (var c in Blocks.SelectMany(b => new[] { b.Conv1, b.Conv2 }).Concat(RefEr.SelectMany(b => new[] { b.Conv1, b.Conv2 })))
            c.ReleaseMaster();
    }

    /// <summary>Bytes of weights this network keeps in memory: the bit-packed codes of each
    /// bit-width a quantized model runs at (its float masters are released after
    /// quantizing), FP32 conv layouts, BN affines.</summary>
    public long ResidentBytes
        => head.ResidentBytes + bodyEnd.ResidentBytes + up0.ResidentBytes + up1.ResidentBytes + tail.ResidentBytes
           + (up0Fused?.ResidentBytes ?? 0) + (up1Fused?.ResidentBytes ?? 0)
           + Blocks.Sum(b => b.ResidentBytes) + RefEr.Sum(b => b.Conv1.ResidentBytes + b.Conv2.ResidentBytes)
           + 8L * Config.Channels;

    public static SrResNet Load(ModelFile f, FloatConvWeights.Algorithm floatConvs = FloatConvWeights.Algorithm.Auto)
    {
        if (f.Config.Network != NetworkKind.SrResNet)
            throw new ArgumentException($"model is a {f.Config.Describe()}, not an SRResNet");
        if (!Enum.IsDefined(floatConvs)) throw new ArgumentOutOfRangeException(nameof(floatConvs), floatConvs, "unknown FP32 conv algorithm");
        return new SrResNet(f, floatConvs);
    }

    public static SrResNet Load(string path, FloatConvWeights.Algorithm floatConvs = FloatConvWeights.Algorithm.Auto)
        => Load(ModelFile.Load(path), floatConvs);

    /// <summary>The precision every block runs at for a plain (non-RefQSR) forward.</summary>
    public BlockPrecision DefaultPrecision => Config.IsQuantized
        ? new BlockPrecision(Config.WeightBits, Config.ActivationBits) : BlockPrecision.Float;

    /// <summary>Head: conv 9x9 3→C, PReLU. The array is from <see cref="ExactLengthArrays"/>:
    /// give it back when done.</summary>
    internal float[] Head(ReadOnlySpan<float> lr, int h, int w, int threads, StageTimes? times = null)
    {
        using var _ = StageTimes.Time(times, StageTimes.Head);
        var f = ExactLengthArrays.Rent(checked(h * w * Config.Channels));
        FloatConv2d.Run(lr, head, f, h, w, threads);
        Elementwise.PRelu(f, headSlope);
        return f;
    }

    /// <summary>The head's output and a copy of it, the residual stream the blocks update in
    /// place; both from <see cref="ExactLengthArrays"/> (<see cref="ReturnFeatures"/>).</summary>
    (float[] HeadOut, float[] X) HeadAndStream(ReadOnlySpan<float> lr, int h, int w, int threads, StageTimes? times)
    {
        var headOut = Head(lr, h, w, threads, times);
        var x = ExactLengthArrays.Rent(headOut.Length);
        headOut.CopyTo(x, 0);
        return (headOut, x);
    }

    static void ReturnFeatures(float[] headOut, float[] x)
    {
        ExactLengthArrays.Return(headOut);
        ExactLengthArrays.Return(x);
    }

    /// <summary>Body end conv + BN, global skip from the head, then the x4 upsampler and tail.
    /// The intermediates (tens of MB at HR for a patch) come from the shared array pool and
    /// go back to it: fresh arrays this size cost page faults and zeroing on every patch. The
    /// HR output is from <see cref="ExactLengthArrays"/>: a caller that is done with it may
    /// give it back.</summary>
    internal float[] BodyEndAndTail(float[] body, float[] headOut, int h, int w, int threads, StageTimes? times = null,
        CancellationToken cancellation = default)
    {
        cancellation.ThrowIfCancellationRequested();
        int ch = Config.Channels;
        var pool = System.Buffers.ArrayPool<float>.Shared;
        float[] x;
        using (StageTimes.Time(times, StageTimes.BodyEnd))
        {
            x = pool.Rent(body.Length);
            FloatConv2d.RunWithEpilogue(body, bodyEnd, x, h, w, threads, new FloatEpilogue { AffineA = bodyEndBn.A, AffineB = bodyEndBn.B, Residual = headOut });
        }
        try
        {
            int ch4 = 4 * ch;
            // the last upsampler step and the tail in one pass where the kernels allow: the
            // HR feature (64 floats per output pixel) then never exists whole
            bool fuseTail = up1Fused is not null && FloatConv2d.SubPixel2ThenRgbSupported(up1Fused, tail);
            using (StageTimes.Time(times, fuseTail ? StageTimes.UpsamplerFirstStep : StageTimes.Upsampler))
                foreach (var (conv, fused, slope) in fuseTail ? new[] { (up0, up0Fused, up0Slope) } : new[] { (up0, up0Fused, up0Slope), (up1, up1Fused, up1Slope) })
                {
                    // every buffer is written in full before it is read: no zeroing
                    int n = checked(h * w * ch4);
                    var upscaled = pool.Rent(n);
                    if (fused is not null)
                        FloatConv2d.RunSubPixel2(x.AsSpan(0, h * w * ch), fused, upscaled, h, w, slope, threads);
                    else
                    {
                        var t = pool.Rent(n);
                        FloatConv2d.Run(x.AsSpan(0, h * w * ch), conv, t, h, w, threads);
                        PixelShuffle.Run(t.AsSpan(0, n), h, w, ch4, 2, upscaled.AsSpan(0, n));
                        pool.Return(t);
                        Elementwise.PRelu(upscaled.AsSpan(0, n), slope);
                    }
                    pool.Return(x);
                    x = upscaled;
                    h *= 2; w *= 2;
                }
            if (fuseTail)
                using (StageTimes.Time(times, StageTimes.UpsamplerSecondStepAndTail))
                {
                    var outHr = ExactLengthArrays.Rent(checked(4 * h * w * 3));
                    FloatConv2d.RunSubPixel2ThenRgb(x.AsSpan(0, h * w * ch), up1Fused!, up1Slope, tail, outHr, h, w, threads);
                    return outHr;
                }
            using (StageTimes.Time(times, StageTimes.Tail))
            {
                var outHr = ExactLengthArrays.Rent(checked(h * w * 3));
                FloatConv2d.Run(x.AsSpan(0, h * w * ch), tail, outHr, h, w, threads);
                return outHr;
            }
        }
        finally { pool.Return(x); }
    }

    /// <summary>Super-resolves one HWC RGB image (0..255 floats); returns HWC RGB at 4x
    /// (not clamped).</summary>
    /// <param name="lr">height x width x 3 values, interleaved RGB.</param>
    /// <param name="height">Rows of the image.</param>
    /// <param name="width">Columns of the image.</param>
    /// <param name="threads">Threads to split each conv's rows over; the bytes do not depend on it.</param>
    /// <param name="trace">Records the intermediate activations and codes, if given (parity tests).</param>
    /// <param name="times">Adds this forward's time per stage, if given.</param>
    /// <param name="cancellation">Checked before every block and before the upsampler.</param>
    public float[] Forward(ReadOnlySpan<float> lr, int height, int width, int threads = 1, ForwardTrace? trace = null, StageTimes? times = null,
        CancellationToken cancellation = default)
    {
        if (height <= 0 || width <= 0) throw new ArgumentException($"image size {width}x{height} must be positive");
        if (lr.Length != height * width * 3) throw new ArgumentException($"input has {lr.Length} values, expected {height}x{width}x3");
        var (headOut, x) = HeadAndStream(lr, height, width, threads, times);
        trace?.RecordHead(headOut);
        using (StageTimes.Time(times, StageTimes.Body))
            RunBlocks(x, height, width, 0, Blocks.Length, _ => (DefaultPrecision, QuantizerSet.Standard), threads, trace, cancellation: cancellation);
        var hr = BodyEndAndTail(x, headOut, height, width, threads, times, cancellation);
        ReturnFeatures(headOut, x);
        return hr;
    }

    /// <summary>Runs ResBlocks [<paramref name="from"/>, <paramref name="to"/>) on x in place,
    /// each at the precision and with the quantizers <paramref name="plan"/> gives it;
    /// <paramref name="beforeBlock"/> sees a block's input (RefQSR keeps the references'
    /// inputs to the RefER blocks). Where a block and the next both run integer convs and the
    /// next one's conv1 quantizer is not gated, the block's last epilogue also writes the next
    /// block's input codes (<see cref="BlockHandoff"/>), which saves a quantizing pass over x
    /// per block.</summary>
    internal void RunBlocks(float[] x, int h, int w, int from, int to, Func<int, (BlockPrecision, QuantizerSet)> plan,
        int threads, ForwardTrace? trace, Action<int, float[]>? beforeBlock = null, CancellationToken cancellation = default)
    {
        if (from < 0 || to > Blocks.Length || from > to) throw new ArgumentException($"block range [{from}, {to}) is outside 0..{Blocks.Length}");
        var pool = System.Buffers.ArrayPool<byte>.Shared;
        byte[]? ready = null;   // block i's conv1 input codes, from block i − 1's epilogue
        try
        {
            for (int i = from; i < to; i++)
            {
                cancellation.ThrowIfCancellationRequested();
                beforeBlock?.Invoke(i, x);
                var (prec, set) = plan(i);
                var (q1, q2, name) = Blocks[i].Quantizers(set, i);
                byte[]? next = null;
                CodeQuantizer nextQuantizer = default;
                if (i + 1 < to && ResBlock.RunsQuantized(prec, q1, q2))
                {
                    var (nextPrec, nextSet) = plan(i + 1);
                    var (n1, n2, _) = Blocks[i + 1].Quantizers(nextSet, i + 1);
                    if (ResBlock.RunsQuantized(nextPrec, n1, n2) && !n1!.IsGated)
                    {
                        // a trace keeps the codes it records: those get arrays of their own
                        next = trace is null ? pool.Rent(x.Length) : new byte[x.Length];
                        nextQuantizer = n1.ForMeans(default, nextPrec.ActivationBits).ForKernels;
                    }
                }
                Blocks[i].Forward(x, h, w, prec, q1, q2, threads, trace, name, new BlockHandoff(ready, next, nextQuantizer));
                if (ready is not null && trace is null) pool.Return(ready);
                ready = next;
            }
        }
        finally
        {
            if (ready is not null && trace is null) pool.Return(ready);
        }
    }
}

/// <summary><see cref="Convs"/> quantized 3x3 convs of one role (body, queries, RefER) at
/// these bit-widths take <see cref="Path"/> (<see cref="SrResNet.ConvPaths"/>).</summary>
/// <summary>One FP32 conv role of <see cref="SrResNet.FloatConvPaths"/>: its shape, how it runs, how many convs.</summary>
public readonly record struct FloatConvPath(string Layer, int Kernel, int InChannels, int OutChannels, string Algorithm, int Convs)
{
    public string Shape => $"{Kernel}x{Kernel} {InChannels}->{OutChannels}";
}

public readonly record struct ConvPathCount(string Role, int WeightBits, int ActivationBits, QuantConvPath Path, int Convs);

/// <summary>Which activation quantizers a ResBlock uses: its own (<c>q</c>) or RefQSR's
/// query-path b_low ones (<c>qlow</c>).</summary>
public enum QuantizerSet { Standard, QueryLow }
