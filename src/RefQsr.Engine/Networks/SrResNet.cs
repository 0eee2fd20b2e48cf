using RefQsr.Engine.Weights;
using RefQsr.Kernels;

namespace RefQsr.Engine.Networks;

/// <summary>SRResNet x4 (SPEC §2) on HWC float images in 0..255: FP32 head, body end,
/// upsampler and tail; the 32 ResBlock convs in integer arithmetic when the model is
/// quantized.</summary>
public sealed class SrResNet
{
    public ModelConfig Config { get; }
    public long ParameterCount { get; }
    readonly FloatConvWeights head, bodyEnd, up0, up1, tail;
    readonly float headSlope, up0Slope, up1Slope;
    readonly Affine bodyEndBn;
    internal ResBlock[] Blocks { get; }

    SrResNet(ModelFile f)
    {
        Config = f.Config;
        ParameterCount = f.ParameterCount;
        int ch = Config.Channels;
        foreach (var (name, t) in f.Tensors)
            foreach (var v in t.ToFloats())
                if (!float.IsFinite(v)) throw new WeightsFormatException($"tensor '{name}': holds a non-finite value ({v})");
        head = new FloatConvWeights(f.Floats("head.weight"), ch, 3, 9);
        headSlope = f.Scalar("head_act.weight");
        Blocks = Enumerable.Range(0, Config.Blocks).Select(i => ResBlock.Load(f, Config, i)).ToArray();
        bodyEnd = new FloatConvWeights(f.Floats("body_end.conv.weight"), ch, ch, 3);
        bodyEndBn = Affine.Load(f, "body_end.bn.");
        up0 = new FloatConvWeights(f.Floats("up.0.conv.weight"), 4 * ch, ch, 3);
        up1 = new FloatConvWeights(f.Floats("up.1.conv.weight"), 4 * ch, ch, 3);
        up0Slope = f.Scalar("up.0.act.weight");
        up1Slope = f.Scalar("up.1.act.weight");
        tail = new FloatConvWeights(f.Floats("tail.weight"), 3, ch, 9);
    }

    public static SrResNet Load(ModelFile f)
    {
        if (f.Config.Network != NetworkKind.SrResNet)
            throw new ArgumentException($"model is a {f.Config.Describe()}, not an SRResNet");
        return new SrResNet(f);
    }

    public static SrResNet Load(string path) => Load(ModelFile.Load(path));

    /// <summary>The precision every block runs at for a plain (non-RefQSR) forward.</summary>
    public BlockPrecision DefaultPrecision => Config.IsQuantized
        ? new BlockPrecision(Config.WeightBits, Config.ActivationBits) : BlockPrecision.Float;

    /// <summary>Head: conv 9x9 3→C, PReLU.</summary>
    internal float[] Head(ReadOnlySpan<float> lr, int h, int w, int threads)
    {
        var f = new float[h * w * Config.Channels];
        FloatConv2d.Run(lr, head, f, h, w, threads);
        Elementwise.PRelu(f, headSlope);
        return f;
    }

    /// <summary>Body end conv + BN, global skip from the head, then the x4 upsampler and tail.</summary>
    internal float[] BodyEndAndTail(float[] body, float[] headOut, int h, int w, int threads)
    {
        int ch = Config.Channels;
        var y = new float[body.Length];
        FloatConv2d.Run(body, bodyEnd, y, h, w, threads);
        bodyEndBn.Apply(y);
        Elementwise.Add(y, headOut);
        var x = y;
        int ch4 = 4 * ch;
        foreach (var (conv, slope) in new[] { (up0, up0Slope), (up1, up1Slope) })
        {
            var t = new float[h * w * ch4];
            FloatConv2d.Run(x, conv, t, h, w, threads);
            x = new float[t.Length];
            PixelShuffle.Run(t, h, w, ch4, 2, x);
            h *= 2; w *= 2;
            Elementwise.PRelu(x, slope);
        }
        var outHr = new float[h * w * 3];
        FloatConv2d.Run(x, tail, outHr, h, w, threads);
        return outHr;
    }

    /// <summary>Super-resolves one HWC RGB image (0..255 floats); returns HWC RGB at 4x
    /// (not clamped).</summary>
    public float[] Forward(ReadOnlySpan<float> lr, int height, int width, int threads = 1, ForwardTrace? trace = null)
    {
        if (height <= 0 || width <= 0) throw new ArgumentException($"image size {width}x{height} must be positive");
        if (lr.Length != height * width * 3) throw new ArgumentException($"input has {lr.Length} values, expected {height}x{width}x3");
        var headOut = Head(lr, height, width, threads);
        var x = (float[])headOut.Clone();
        var prec = DefaultPrecision;
        for (int i = 0; i < Blocks.Length; i++)
            Blocks[i].Forward(x, height, width, prec, threads, trace, i);
        return BodyEndAndTail(x, headOut, height, width, threads);
    }
}
