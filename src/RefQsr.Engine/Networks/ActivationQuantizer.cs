using RefQsr.Engine.Quantization;
using RefQsr.Engine.Weights;

namespace RefQsr.Engine.Networks;

/// <summary>The learned activation range of one quantized conv input: PAMS's alpha or
/// DDTB's (alpha_l, alpha_u), optionally scaled per sample by DDTB's dynamic gate.</summary>
internal sealed class ActivationQuantizer
{
    readonly QuantizerKind kind;
    readonly float alpha, alphaL, alphaU;
    readonly DynamicGate? gate;
    readonly string name;

    ActivationQuantizer(QuantizerKind kind, float alpha, float alphaL, float alphaU, DynamicGate? gate, string name)
    {
        this.kind = kind; this.alpha = alpha; this.alphaL = alphaL; this.alphaU = alphaU; this.gate = gate; this.name = name;
    }

    public bool IsGated => gate is not null;

    /// <summary>Checks the learned range at load (<see cref="RangeTensors"/>): a gated
    /// range is scaled per sample by factors in (0, 2), but a model whose learned lower
    /// bound is not below its upper one is broken all the same.</summary>
    public static ActivationQuantizer Load(ModelFile f, string prefix, QuantizerKind kind, bool gated, int channels)
    {
        string name = prefix.TrimEnd('.');
        if (kind == QuantizerKind.Pams)
        {
            float a = Finite(f, prefix + "alpha");
            RangeTensors.Checked(() => Quantizer.Symmetric(a, RangeTensors.WidestBits), $"tensor '{prefix}alpha'");
            return new ActivationQuantizer(kind, a, 0, 0, null, name);
        }
        float lo = Finite(f, prefix + "alpha_l"), hi = Finite(f, prefix + "alpha_u");
        RangeTensors.Checked(() => Quantizer.Asymmetric(lo, hi, RangeTensors.WidestBits), $"tensors '{prefix}alpha_l' and '{prefix}alpha_u'");
        return new ActivationQuantizer(kind, 0, lo, hi, gated ? DynamicGate.Load(f, prefix + "gate.", channels) : null, name);
    }

    /// <summary>The quantizer for one sample (an image or a patch) of HWC activations.</summary>
    public Quantizer For(ReadOnlySpan<float> sample, int channels, int bits)
        => ForMeans(gate is null ? default : DynamicGate.ChannelMeans(sample, channels), bits);

    /// <summary>The quantizer given the sample's per-channel means (only a gated quantizer
    /// reads them; the GPU backend computes them on the device).</summary>
    public Quantizer ForMeans(ReadOnlySpan<float> channelMeans, int bits)
    {
        if (kind == QuantizerKind.Pams) return Quantizer.Symmetric(alpha, bits);
        if (gate is null) return Quantizer.Asymmetric(alphaL, alphaU, bits);
        var (gl, gu) = gate.Evaluate(channelMeans);
        try { return Quantizer.Asymmetric(alphaL * gl, alphaU * gu, bits); }
        catch (ArgumentException e)
        {
            // the learned range was checked at load; only the gate's per-sample factors can break it
            throw new ModelArithmeticException($"quantizer '{name}': DDTB's dynamic gate scaled its range [{alphaL}, {alphaU}] by ({gl}, {gu}) on this input, and {e.Message}", e);
        }
    }

    internal static float Finite(ModelFile f, string name)
    {
        float v = f.Scalar(name);
        if (!float.IsFinite(v)) throw new WeightsFormatException($"tensor '{name}': value {v} is not finite");
        return v;
    }
}

/// <summary>DDTB's per-sample gate: GAP → 2-bit quant → 1x1 conv → BN → ReLU → 2-bit quant
/// → 1x1 conv → 2·sigmoid, giving the factors of the lower and upper bound.</summary>
internal sealed class DynamicGate
{
    readonly Quantizer qIn, qMid;
    readonly float[] w1, w2, b2;
    readonly Affine bn;
    readonly int hidden;

    DynamicGate(Quantizer qIn, Quantizer qMid, float[] w1, Affine bn, float[] w2, float[] b2)
    {
        this.qIn = qIn; this.qMid = qMid; this.w1 = w1; this.bn = bn; this.w2 = w2; this.b2 = b2;
        hidden = bn.A.Length;
    }

    public static DynamicGate Load(ModelFile f, string p, int channels)
        => new(TwoBit(f, p + "q_in."), TwoBit(f, p + "q_mid."),
               f.Floats(p + "conv1.weight"), Affine.Load(f, p + "bn."), f.Floats(p + "conv2.weight"), f.Floats(p + "conv2.bias"));

    static Quantizer TwoBit(ModelFile f, string p)
    {
        float lo = ActivationQuantizer.Finite(f, p + "alpha_l"), hi = ActivationQuantizer.Finite(f, p + "alpha_u");
        return RangeTensors.Checked(() => Quantizer.Asymmetric(lo, hi, 2), $"tensors '{p}alpha_l' and '{p}alpha_u'");
    }

    /// <summary>GAP of HWC data: the sums and the division in float64 (pixel order), then
    /// rounded to float32 (docs/integer-arithmetic.md).</summary>
    public static float[] ChannelMeans(ReadOnlySpan<float> sample, int channels)
    {
        int pixels = sample.Length / channels;
        var sums = new double[channels];
        for (int p = 0; p < pixels; p++)
            for (int c = 0; c < channels; c++) sums[c] += sample[p * channels + c];
        var means = new float[channels];
        for (int c = 0; c < channels; c++) means[c] = (float)(sums[c] / pixels);
        return means;
    }

    public (float Lower, float Upper) Evaluate(ReadOnlySpan<float> channelMeans)
    {
        int channels = channelMeans.Length;
        Span<float> v = stackalloc float[channels];
        for (int c = 0; c < channels; c++) v[c] = qIn.Value(qIn.Code(channelMeans[c]));
        Span<float> h = stackalloc float[hidden];
        for (int j = 0; j < hidden; j++)
        {
            double dot = 0;   // float64, rounded once: independent of summation order
            for (int c = 0; c < channels; c++) dot += (double)w1[j * channels + c] * v[c];
            float acc = (float)dot * bn.A[j] + bn.B[j];
            h[j] = qMid.Value(qMid.Code(acc > 0f ? acc : 0f));
        }
        Span<float> g = stackalloc float[2];
        for (int k = 0; k < 2; k++)
        {
            double dot = 0;
            for (int j = 0; j < hidden; j++) dot += (double)w2[k * hidden + j] * h[j];
            float o = (float)dot + b2[k];
            g[k] = (float)(2.0 / (1.0 + Math.Exp(-(double)o)));
        }
        return (g[0], g[1]);
    }
}
