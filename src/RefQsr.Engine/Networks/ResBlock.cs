using RefQsr.Engine.Quantization;
using RefQsr.Engine.Weights;
using RefQsr.Kernels;

namespace RefQsr.Engine.Networks;

/// <summary>Bit-widths one ResBlock runs at (RefQSR changes them per patch and block).</summary>
public readonly record struct BlockPrecision(int WeightBits, int ActivationBits)
{
    public static readonly BlockPrecision Float = new(32, 32);
    public bool IsFloat => WeightBits >= 32;
}

/// <summary>conv3x3 → BN → PReLU → conv3x3 → BN, plus the identity skip (SPEC §2).
/// Quantized: conv1(Q1(x)), conv2(Q2(·)); everything else FP32.</summary>
internal sealed class ResBlock
{
    public QuantizedConv Conv1 { get; }
    public QuantizedConv Conv2 { get; }
    // the FP32 layouts exist only for FP32 models: quantized ones never run them
    FloatConvWeights? float1, float2;
    public FloatConvWeights Float1 => float1 ??= new FloatConvWeights(Conv1.Master, Conv1.Channels, Conv1.Channels, 3, FloatConvs);
    public FloatConvWeights Float2 => float2 ??= new FloatConvWeights(Conv2.Master, Conv2.Channels, Conv2.Channels, 3, FloatConvs);
    FloatConvWeights.Algorithm FloatConvs { get; init; }
    public long ResidentBytes => Conv1.ResidentBytes + Conv2.ResidentBytes + (float1?.ResidentBytes ?? 0) + (float2?.ResidentBytes ?? 0)
        + 4L * (Bn1.A.Length + Bn1.B.Length + Bn2.A.Length + Bn2.B.Length);
    public Affine Bn1 { get; }
    public Affine Bn2 { get; }
    public float Slope { get; }
    public ActivationQuantizer? Q1 { get; }
    public ActivationQuantizer? Q2 { get; }
    /// <summary>RefQSR's query-path quantizers at b_low (blocks 1 .. FirstRefEr−1 only).</summary>
    public ActivationQuantizer? QLow1 { get; private init; }
    public ActivationQuantizer? QLow2 { get; private init; }

    ResBlock(QuantizedConv c1, QuantizedConv c2, Affine bn1, Affine bn2, float slope, ActivationQuantizer? q1, ActivationQuantizer? q2, int ch)
    {
        Conv1 = c1; Conv2 = c2; Bn1 = bn1; Bn2 = bn2; Slope = slope; Q1 = q1; Q2 = q2;
    }

    public static ResBlock Load(ModelFile f, ModelConfig c, int i, FloatConvWeights.Algorithm floatConvs)
    {
        string p = $"body.{i}.";
        int ch = c.Channels;
        QuantizedConv Conv(int k) => c.IsQuantized
            ? QuantizedConv.Load(f, $"{p}conv{k}.", c.Quantizer, ch)
            : new QuantizedConv(f.Floats($"{p}conv{k}.weight"), 0, 0, QuantizerKind.None, ch);
        ActivationQuantizer? Q(int k) => c.IsQuantized
            ? ActivationQuantizer.Load(f, $"{p}q{k}.", c.Quantizer, c.DdtbGated.Contains(2 * i + k - 1), ch)
            : null;
        // the query path's b_low quantizers are never gated (docs/refqsr.md)
        ActivationQuantizer? QLow(int k) => c.RefQsr is { } r && r.IsLowBlock(i)
            ? ActivationQuantizer.Load(f, $"{p}qlow{k}.", c.Quantizer, false, ch)
            : null;
        return new ResBlock(Conv(1), Conv(2), Affine.Load(f, p + "bn1."), Affine.Load(f, p + "bn2."),
            ActivationQuantizer.Finite(f, p + "act.weight"), Q(1), Q(2), ch)
        { QLow1 = QLow(1), QLow2 = QLow(2), FloatConvs = floatConvs };
    }

    /// <summary>x ← x + block(x), in place, with the block's own quantizers.</summary>
    public void Forward(float[] x, int h, int w, BlockPrecision prec, int threads, ForwardTrace? trace, int index)
    {
        var (q1, q2, name) = Quantizers(QuantizerSet.Standard, index);
        Forward(x, h, w, prec, q1, q2, threads, trace, name);
    }

    /// <summary>The quantizers this block runs with in <paramref name="set"/>, and the name its
    /// traced codes get (+ 1 or 2).</summary>
    public (ActivationQuantizer? Q1, ActivationQuantizer? Q2, string TraceName) Quantizers(QuantizerSet set, int index)
    {
        if (set != QuantizerSet.QueryLow) return (Q1, Q2, $"body.{index}.q");
        if (QLow1 is null || QLow2 is null) throw new InvalidOperationException($"block {index} has no query-path (qlow) quantizers");
        return (QLow1, QLow2, $"body.{index}.qlow");
    }

    /// <summary>Whether <see cref="Forward(float[], int, int, BlockPrecision, ActivationQuantizer?, ActivationQuantizer?, int, ForwardTrace?, string, BlockHandoff)"/>
    /// takes the integer path with these quantizers (and so can take and give a <see cref="BlockHandoff"/>).</summary>
    public static bool RunsQuantized(BlockPrecision prec, ActivationQuantizer? q1, ActivationQuantizer? q2) => !prec.IsFloat && q1 is not null && q2 is not null;

    /// <summary>x ← x + block(x), in place, quantizing the two conv inputs with
    /// <paramref name="q1"/> and <paramref name="q2"/> (RefQSR's query path passes the
    /// qlow pair); trace names are <paramref name="traceName"/> + 1 or 2.
    /// <paramref name="handoff"/> carries conv1's input codes made by the previous block's
    /// epilogue, and where this block's conv2 epilogue is to write the next block's.</summary>
    public void Forward(float[] x, int h, int w, BlockPrecision prec, ActivationQuantizer? q1, ActivationQuantizer? q2,
        int threads, ForwardTrace? trace, string traceName, BlockHandoff handoff = default)
    {
        int ch = Conv1.Channels;
        if (!RunsQuantized(prec, q1, q2))
        {
            if (handoff.InputCodes is not null || handoff.NextCodes is not null)
                throw new InvalidOperationException("a block on the float path has no codes to take or give");
            ForwardFloat(x, h, w, threads);
            return;
        }
        if (handoff.InputCodes is not null && q1!.IsGated)
            throw new InvalidOperationException("a gated quantizer needs its input's channel means: its codes cannot come from the previous epilogue");
        // BN and PReLU fused into conv1's epilogue, and, unless conv2's quantizer is gated
        // (it then needs y's channel means first), conv2's input codes too, and then only
        // them: y itself has no other reader. BN and the skip add into conv2's epilogue,
        // which writes x + block(x) straight into x (and, where the next block's conv1
        // quantizer is not gated, that conv's input codes)
        var ops1 = new EpilogueOps { AffineA = Bn1.A, AffineB = Bn1.B, PReluSlope = Slope };
        // the two convs' input codes and y live only for this block unless a trace keeps the
        // codes: pooled (rented arrays can be longer than x; only x.Length of them is read)
        var pool = System.Buffers.ArrayPool<byte>.Shared;
        byte[]? codes1 = trace is null && handoff.InputCodes is null ? pool.Rent(x.Length) : null;
        Quantizer? aq2 = null;
        byte[]? codes2 = null, codes2Buffer = null;
        float[]? y = null;
        try
        {
            if (!q2!.IsGated)
            {
                aq2 = q2.ForMeans(default, prec.ActivationBits);
                codes2 = trace is null ? pool.Rent(x.Length) : new byte[x.Length];
                ops1 = ops1 with { NextCodes = codes2, NextQuantizer = aq2.Value.ForKernels, CodesOnly = true };
            }
            else
            {
                // a gated quantizer needs y's channel means before it can quantize y
                y = System.Buffers.ArrayPool<float>.Shared.Rent(x.Length);
                codes2Buffer = trace is null ? pool.Rent(x.Length) : new byte[x.Length];
            }
            var codes = Conv1.Forward(x, q1!.For(x, ch, prec.ActivationBits), prec.WeightBits, h, w, y ?? [], threads, ops1, handoff.InputCodes, codes1);
            trace?.Record(traceName + "1", codes);
            var ops2 = new EpilogueOps { AffineA = Bn2.A, AffineB = Bn2.B, Residual = x };
            if (handoff.NextCodes is not null) ops2 = ops2 with { NextCodes = handoff.NextCodes, NextQuantizer = handoff.NextQuantizer };
            codes = Conv2.Forward(y ?? [], aq2 ?? q2.For(y.AsSpan(0, x.Length), ch, prec.ActivationBits), prec.WeightBits, h, w, x, threads, ops2, codes2, codes2Buffer);
            trace?.Record(traceName + "2", codes);
        }
        finally
        {
            if (y is not null) System.Buffers.ArrayPool<float>.Shared.Return(y);
            if (trace is null)
            {
                if (codes1 is not null) pool.Return(codes1);
                if (codes2 is not null) pool.Return(codes2);
                if (codes2Buffer is not null) pool.Return(codes2Buffer);
            }
        }
    }

    void ForwardFloat(float[] x, int h, int w, int threads)
    {
        // BN, PReLU and the skip go into the convs' epilogues: x ← x + BN2(conv2(PReLU(BN1(conv1(x)))))
        var pool = System.Buffers.ArrayPool<float>.Shared;
        var y = pool.Rent(x.Length);
        try
        {
            FloatConv2d.RunWithEpilogue(x, Float1, y, h, w, threads, new FloatEpilogue { AffineA = Bn1.A, AffineB = Bn1.B, PReluSlope = Slope });
            FloatConv2d.RunWithEpilogue(y.AsSpan(0, x.Length), Float2, x, h, w, threads, new FloatEpilogue { AffineA = Bn2.A, AffineB = Bn2.B, Residual = x });
        }
        finally { pool.Return(y); }
    }
}

/// <summary>Activation codes passed from one ResBlock to the next: the next block's conv1
/// input, quantized in this block's conv2 epilogue as it writes x + block(x), instead of in
/// a pass of its own over x (the same codes: the epilogue quantizes the same float values
/// with the same quantizer). Only for an ungated quantizer, which needs no statistics of x.</summary>
internal readonly record struct BlockHandoff(byte[]? InputCodes, byte[]? NextCodes, CodeQuantizer NextQuantizer);

/// <summary>Collects the activation codes a forward pass fed its integer convs, by name
/// (<c>body.{i}.q{k}</c>; RefQSR queries also <c>body.{i}.qlow{k}</c>, <c>refer.{j}.q{k}</c>),
/// and a RefQSR query's RefER matching (<c>refer.{j}</c>), for parity checks against the trainer.</summary>
public sealed class ForwardTrace
{
    readonly Dictionary<string, byte[]> codes = [];
    readonly Dictionary<string, int[]> matches = [];
    readonly Dictionary<string, float[]> flows = [];
    public IReadOnlyDictionary<string, byte[]> Codes => codes;
    /// <summary>Each RefER block's argmax: for every pooled query position (row-major), the
    /// flat row-major index of the pooled reference position it matched.</summary>
    public IReadOnlyDictionary<string, int[]> Matches => matches;
    /// <summary>Each RefER block's pixel displacement field [h][w][2] = (u, v).</summary>
    public IReadOnlyDictionary<string, float[]> Flows => flows;
    /// <summary>The FP32 head's output (the first quantizer's input), HWC, of a plain forward.</summary>
    public float[]? Head { get; private set; }
    internal void RecordHead(float[] head) => Head = (float[])head.Clone();
    internal void Record(string name, byte[] c) { lock (codes) codes[name] = c; }
    internal void RecordMatching(string name, int[] match, float[] flow)
    {
        lock (codes)
        {
            matches[name] = match;
            flows[name] = flow;
        }
    }
}
