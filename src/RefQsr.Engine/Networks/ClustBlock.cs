using RefQsr.Engine.Quantization;
using RefQsr.Engine.Weights;
using RefQsr.Kernels;

namespace RefQsr.Engine.Networks;

/// <summary>RefQSR's 8-bit texture classifier (docs/refqsr.md "ClustBlock"): conv1 3→64
/// 3x3 stride 3 no pad → ReLU → conv2 64→64 pad 1 → ReLU → conv3 64→32 pad 1 → ReLU →
/// GAP → fc 32→C. Each layer quantizes its input (DDTB formula, 8 bits, q{n}.range) and
/// its weights (8 bits, w_range), runs the integer dot product with the zero-point
/// corrections, scales once and adds its float32 bias.</summary>
public sealed class ClustBlock
{
    public const int Bits = 8;
    public const int Conv1Out = 64, Conv2Out = 64, Conv3Out = 32, Stride = 3;

    public ModelConfig Config { get; }
    public int Classes => Config.Classes;
    public long ParameterCount { get; }
    readonly Layer conv1, conv2, conv3, fc;
    readonly QuantConvWeights conv2Packed, conv3Packed;

    sealed record Layer(sbyte[] Codes, Quantizer Weights, Quantizer Input, float[] Bias);

    ClustBlock(ModelFile f)
    {
        Config = f.Config;
        ParameterCount = f.ParameterCount;
        foreach (var (name, t) in f.Tensors)
            foreach (var v in t.ToFloats())
                if (!float.IsFinite(v)) throw new WeightsFormatException($"tensor '{name}': holds a non-finite value ({v})");
        conv1 = Load(f, "conv1", 1);
        conv2 = Load(f, "conv2", 2);
        conv3 = Load(f, "conv3", 3);
        fc = Load(f, "fc", 4);
        conv2Packed = new QuantConvWeights(conv2.Codes, Conv2Out, Conv1Out);
        conv3Packed = new QuantConvWeights(conv3.Codes, Conv3Out, Conv2Out);
    }

    public static ClustBlock Load(ModelFile f)
    {
        if (f.Config.Network != NetworkKind.ClustBlock)
            throw new ArgumentException($"model is a {f.Config.Describe()}, not a ClustBlock");
        return new ClustBlock(f);
    }

    public static ClustBlock Load(string path) => Load(ModelFile.Load(path));

    /// <summary>Layer <paramref name="n"/> as loaded (1..3: conv1..conv3, 4: fc): weight codes
    /// [out][in][k][k], weight and input quantizers, bias (for the GPU backend).</summary>
    internal (sbyte[] Codes, Quantizer Weights, Quantizer Input, float[] Bias) LayerAt(int n)
    {
        var l = n switch { 1 => conv1, 2 => conv2, 3 => conv3, 4 => fc, _ => throw new ArgumentOutOfRangeException(nameof(n)) };
        return (l.Codes, l.Weights, l.Input, l.Bias);
    }

    static Layer Load(ModelFile f, string name, int input)
    {
        var wq = Asymmetric(f, name + ".w_range");
        var w = f.Floats(name + ".weight");
        var codes = new sbyte[w.Length];
        for (int i = 0; i < w.Length; i++) codes[i] = (sbyte)wq.Code(w[i]);
        return new Layer(codes, wq, Asymmetric(f, $"q{input}.range"), f.Floats(name + ".bias"));
    }

    static Quantizer Asymmetric(ModelFile f, string name)
    {
        var r = f.Floats(name);
        if (!(r[1] > r[0])) throw new WeightsFormatException($"tensor '{name}': [{r[0]}, {r[1]}] is not a valid range (needs min < max)");
        return RangeTensors.Checked(() => Quantizer.Asymmetric(r[0], r[1], Bits), $"tensor '{name}'");
    }

    /// <summary>The C class logits of one LR patch (HWC RGB floats in 0..255). A patch
    /// smaller than 3 px in a dimension has no conv1 output; its pooled features are 0.</summary>
    public float[] Logits(ReadOnlySpan<float> lr, int height, int width, int threads = 1)
    {
        if (height <= 0 || width <= 0) throw new ArgumentException($"ClustBlock: patch size {width}x{height} must be positive");
        if (lr.Length != height * width * 3) throw new ArgumentException($"ClustBlock: input has {lr.Length} values, expected {height}x{width}x3");
        int oh = QuantConvStrided.OutputSize(height, 3, Stride, 0), ow = QuantConvStrided.OutputSize(width, 3, Stride, 0);
        var pooled = new float[Conv3Out];
        if (oh > 0 && ow > 0)
        {
            var x1 = new float[oh * ow * Conv1Out];
            var codes = Codes(lr, conv1.Input);
            QuantConvStrided.Run(codes, height, width, 3, conv1.Codes, Conv1Out, 3, Stride, 0,
                conv1.Input.UnsignedZero, (int)conv1.Weights.Zp, Scale(conv1), x1);
            BiasRelu(x1, conv1.Bias);
            var x2 = Conv3x3(x1, oh, ow, conv2, conv2Packed, threads);
            var x3 = Conv3x3(x2, oh, ow, conv3, conv3Packed, threads);
            pooled = GlobalAverage(x3, Conv3Out);
        }
        var logits = new float[Classes];
        QuantConvStrided.Run(Codes(pooled, fc.Input), 1, 1, Conv3Out, fc.Codes, Classes, 1, 1, 0,
            fc.Input.UnsignedZero, (int)fc.Weights.Zp, Scale(fc), logits);
        for (int c = 0; c < Classes; c++) logits[c] += fc.Bias[c];
        return logits;
    }

    /// <summary>MACs of one patch: the three convs (every tap of every output position,
    /// as the SR convs are counted) and the fc.</summary>
    public static long Macs(int width, int height, int classes)
    {
        long oh = QuantConvStrided.OutputSize(height, 3, Stride, 0), ow = QuantConvStrided.OutputSize(width, 3, Stride, 0);
        long area = oh * ow;
        return checked(area * Conv1Out * 3 * 9 + area * Conv2Out * Conv1Out * 9 + area * Conv3Out * Conv2Out * 9 + (long)Conv3Out * classes);
    }

    static float Scale(Layer l) => 1f / (l.Input.S * l.Weights.S);

    static byte[] Codes(ReadOnlySpan<float> x, Quantizer q)
    {
        var codes = new byte[x.Length];
        q.UnsignedCodes(x, codes);
        return codes;
    }

    static float[] Conv3x3(float[] x, int h, int w, Layer l, QuantConvWeights packed, int threads)
    {
        var codes = Codes(x, l.Input);
        var y = new float[h * w * packed.OutChannels];
        QuantConv3x3.RunWithEpilogue(codes, packed, h, w, l.Input.UnsignedZero, (int)l.Weights.Zp, Scale(l), y, default, threads);
        BiasRelu(y, l.Bias);
        return y;
    }

    static void BiasRelu(float[] x, float[] bias)
    {
        int c = bias.Length;
        for (int i = 0; i < x.Length; i++)
        {
            float v = x[i] + bias[i % c];
            x[i] = v > 0f ? v : 0f;
        }
    }

    // float64 sum / count, rounded once to float32 (docs/refqsr.md)
    static float[] GlobalAverage(float[] x, int channels)
    {
        int n = x.Length / channels;
        var sums = new double[channels];
        for (int p = 0; p < n; p++)
            for (int c = 0; c < channels; c++) sums[c] += x[p * channels + c];
        var r = new float[channels];
        for (int c = 0; c < channels; c++) r[c] = (float)(sums[c] / n);
        return r;
    }
}
