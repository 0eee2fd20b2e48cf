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
    public FloatConvWeights Float1 { get; }
    public FloatConvWeights Float2 { get; }
    public Affine Bn1 { get; }
    public Affine Bn2 { get; }
    public float Slope { get; }
    public ActivationQuantizer? Q1 { get; }
    public ActivationQuantizer? Q2 { get; }

    ResBlock(QuantizedConv c1, QuantizedConv c2, Affine bn1, Affine bn2, float slope, ActivationQuantizer? q1, ActivationQuantizer? q2, int ch)
    {
        Conv1 = c1; Conv2 = c2; Bn1 = bn1; Bn2 = bn2; Slope = slope; Q1 = q1; Q2 = q2;
        Float1 = new FloatConvWeights(c1.Master, ch, ch, 3);
        Float2 = new FloatConvWeights(c2.Master, ch, ch, 3);
    }

    public static ResBlock Load(ModelFile f, ModelConfig c, int i)
    {
        string p = $"body.{i}.";
        int ch = c.Channels;
        QuantizedConv Conv(int k) => c.IsQuantized
            ? QuantizedConv.Load(f, $"{p}conv{k}.", c.Quantizer, ch)
            : new QuantizedConv(f.Floats($"{p}conv{k}.weight"), 0, 0, QuantizerKind.None, ch);
        ActivationQuantizer? Q(int k) => c.IsQuantized
            ? ActivationQuantizer.Load(f, $"{p}q{k}.", c.Quantizer, c.DdtbGated.Contains(2 * i + k - 1), ch)
            : null;
        return new ResBlock(Conv(1), Conv(2), Affine.Load(f, p + "bn1."), Affine.Load(f, p + "bn2."),
            ActivationQuantizer.Finite(f, p + "act.weight"), Q(1), Q(2), ch);
    }

    /// <summary>x ← x + block(x), in place.</summary>
    public void Forward(float[] x, int h, int w, BlockPrecision prec, int threads, ForwardTrace? trace, int index)
    {
        int ch = Conv1.Channels;
        var y = new float[x.Length];
        if (prec.IsFloat || Q1 is null || Q2 is null)
            FloatConv2d.Run(x, Float1, y, h, w, threads);
        else
        {
            var codes = Conv1.Forward(x, Q1.For(x, ch, prec.ActivationBits), prec.WeightBits, h, w, y, threads);
            trace?.Record($"body.{index}.q1", codes);
        }
        Bn1.Apply(y);
        Elementwise.PRelu(y, Slope);
        var z = new float[x.Length];
        if (prec.IsFloat || Q1 is null || Q2 is null)
            FloatConv2d.Run(y, Float2, z, h, w, threads);
        else
        {
            var codes = Conv2.Forward(y, Q2.For(y, ch, prec.ActivationBits), prec.WeightBits, h, w, z, threads);
            trace?.Record($"body.{index}.q2", codes);
        }
        Bn2.Apply(z);
        Elementwise.Add(x, z);
    }
}

/// <summary>Collects the activation codes a forward pass fed its integer convs, by name
/// (<c>body.{i}.q{k}</c>), for parity checks against the trainer.</summary>
public sealed class ForwardTrace
{
    readonly Dictionary<string, byte[]> codes = [];
    public IReadOnlyDictionary<string, byte[]> Codes => codes;
    internal void Record(string name, byte[] c) { lock (codes) codes[name] = c; }
}
