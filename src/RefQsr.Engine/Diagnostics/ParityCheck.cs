using RefQsr.Engine.Imaging;
using RefQsr.Engine.Inference;
using RefQsr.Engine.Networks;

namespace RefQsr.Engine.Diagnostics;

/// <summary>The engine against a reference forward of the same model on one LR image: the
/// trainer's integer simulation, as train/make_fixtures.py writes it. The acceptance is the
/// trainer issue's: the activation codes at each traced quantizer identical at 99.9% of
/// positions or more, and the HR output (before clamping) within 0.5 grey levels in max-abs
/// and at 60 dB PSNR or more against the reference's.</summary>
public static class ParityCheck
{
    public const double MinIdenticalCodes = 0.999, MaxHrDifference = 0.5, MinHrPsnr = 60;

    /// <summary>One traced quantizer: its name (body.B.qN) and how many of its codes match.</summary>
    public sealed record Layer(string Name, int Identical, int Total)
    {
        public bool Passes => Identical >= MinIdenticalCodes * Total;
    }

    /// <summary><see cref="HeadDiffering"/>: how many values of the FP32 head's output (the
    /// input of quantizer 0) are not bit for bit the reference's, of <see cref="HeadTotal"/>
    /// (0 of 0 where the reference has none), and the largest relative difference. The
    /// reference's PyTorch sums that conv in its own order; where it is not the engine's, the
    /// codes after the first quantizer can drift apart (see docs/integer-arithmetic.md).</summary>
    public sealed record Result(IReadOnlyList<Layer> Layers, double HrMaxAbs, double HrPsnr, int HeadDiffering = 0, int HeadTotal = 0,
        double HeadMaxRelDiff = 0)
    {
        public bool Passes => Layers.All(l => l.Passes) && HrMaxAbs <= MaxHrDifference && HrPsnr >= MinHrPsnr;
    }

    /// <summary>The name the engine traces quantizer K under: K = 2·block + conv − 1, as the
    /// trainer numbers them (codes_qK).</summary>
    public static string QuantizerName(int k) => $"body.{k / 2}.q{k % 2 + 1}";

    /// <summary>Runs <paramref name="net"/> on the HWC bytes <paramref name="lr"/> and compares.
    /// <paramref name="expectedCodes"/>: quantizer K → its codes in HWC order;
    /// <paramref name="expectedHr"/>: the HR output, HWC, before clamping.
    /// <paramref name="expectedHead"/> (optional): the FP32 input of quantizer 0, HWC, the
    /// reference's head output, compared bit for bit.</summary>
    public static Result Run(SrResNet net, ReadOnlySpan<byte> lr, int height, int width,
        IReadOnlyDictionary<int, byte[]> expectedCodes, ReadOnlySpan<float> expectedHr, int threads = 1, ReadOnlySpan<float> expectedHead = default)
    {
        ArgumentNullException.ThrowIfNull(net);
        ArgumentNullException.ThrowIfNull(expectedCodes);
        var image = Image(lr, height, width);
        var trace = new ForwardTrace();
        var hr = net.Forward(Upscaler.ToFloats(image, 0, 0, width, height), height, width, threads, trace);
        var layers = new List<Layer>();
        foreach (var (k, expected) in expectedCodes.OrderBy(e => e.Key))
        {
            string name = QuantizerName(k);
            if (!trace.Codes.TryGetValue(name, out var actual))
                throw new ArgumentException($"the reference has codes for quantizer {k} ({name}), which this {net.Config.Describe()} does not have");
            if (actual.Length != expected.Length)
                throw new ArgumentException($"quantizer {k} ({name}): the reference has {expected.Length} codes, the engine {actual.Length}");
            layers.Add(new Layer(name, CountEqual<byte>(actual, expected), actual.Length));
        }
        if (hr.Length != expectedHr.Length)
            throw new ArgumentException($"the reference HR output has {expectedHr.Length} values, the engine's {hr.Length}");
        var (maxAbs, psnr) = CompareHr(hr, expectedHr);
        int differing = 0;
        double maxRel = 0;
        if (!expectedHead.IsEmpty)
        {
            var head = trace.Head!;
            if (head.Length != expectedHead.Length)
                throw new ArgumentException($"the reference's head output has {expectedHead.Length} values, the engine's {head.Length}");
            for (int i = 0; i < head.Length; i++)
                if (BitConverter.SingleToInt32Bits(head[i]) != BitConverter.SingleToInt32Bits(expectedHead[i]))
                {
                    differing++;
                    maxRel = Math.Max(maxRel, Math.Abs(head[i] - expectedHead[i]) / Math.Max(Math.Abs(expectedHead[i]), 1e-30));
                }
        }
        return new Result(layers, maxAbs, psnr, differing, expectedHead.Length, maxRel);
    }

    /// <summary>The HWC bytes as an image, checked against its size.</summary>
    internal static RgbImage Image(ReadOnlySpan<byte> lr, int height, int width)
    {
        if (lr.Length != height * width * 3) throw new ArgumentException($"the LR input has {lr.Length} bytes, a {width}x{height} RGB image has {height * width * 3}");
        return new RgbImage(width, height, lr.ToArray());
    }

    /// <summary>How many positions hold the same value in both (of the same length).</summary>
    internal static int CountEqual<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b) where T : IEquatable<T>
    {
        int same = 0;
        for (int i = 0; i < a.Length; i++) same += a[i].Equals(b[i]) ? 1 : 0;
        return same;
    }

    /// <summary>Max |difference| (grey levels) and PSNR (0..255 scale) of an HR output against
    /// a reference's.</summary>
    public static (double MaxAbs, double Psnr) CompareHr(ReadOnlySpan<float> actual, ReadOnlySpan<float> reference)
    {
        if (actual.Length != reference.Length) throw new ArgumentException($"{actual.Length} values against {reference.Length}");
        double maxAbs = 0, se = 0;
        for (int i = 0; i < actual.Length; i++)
        {
            double d = actual[i] - reference[i];
            maxAbs = Math.Max(maxAbs, Math.Abs(d));
            se += d * d;
        }
        double psnr = se == 0 ? double.PositiveInfinity : 10 * Math.Log10(255.0 * 255.0 / (se / actual.Length));
        return (maxAbs, psnr);
    }
}
