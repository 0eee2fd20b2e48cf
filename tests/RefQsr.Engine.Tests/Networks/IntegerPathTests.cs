using RefQsr.Engine.Networks;
using RefQsr.Engine.Quantization;
using RefQsr.Engine.Weights;
using RefQsr.Kernels;

namespace RefQsr.Engine.Tests.Networks;

/// <summary>The integer ResBlocks against a float fake-quant forward of the same network:
/// x̂ = value(code(x)), ŵ = value(code(w)), float conv (the scalar reference), same
/// FP32 head/tail code.</summary>
public class IntegerPathTests
{
    const int H = 11, W = 13;

    static (float[] Output, Dictionary<string, byte[]> Codes) FakeQuant(SrResNet net, float[] lr)
    {
        int ch = net.Config.Channels;
        var codes = new Dictionary<string, byte[]>();
        var headOut = net.Head(lr, H, W, 1);
        var x = (float[])headOut.Clone();
        var prec = net.DefaultPrecision;
        for (int i = 0; i < net.Blocks.Length; i++)
        {
            var b = net.Blocks[i];
            var y = Conv(b.Conv1, b.Q1!.For(x, ch, prec.ActivationBits), prec.WeightBits, x, codes, $"body.{i}.q1");
            b.Bn1.Apply(y);
            Elementwise.PRelu(y, b.Slope);
            var z = Conv(b.Conv2, b.Q2!.For(y, ch, prec.ActivationBits), prec.WeightBits, y, codes, $"body.{i}.q2");
            b.Bn2.Apply(z);
            Elementwise.Add(x, z);
        }
        return (net.BodyEndAndTail(x, headOut, H, W, 1), codes);
    }

    static float[] Conv(QuantizedConv conv, Quantizer aq, int wBits, float[] x, Dictionary<string, byte[]> codes, string name)
    {
        codes[name] = x.Select(aq.UnsignedCode).ToArray();
        var xq = x.Select(v => aq.Value(aq.Code(v))).ToArray();
        var wq = conv.WeightQuantizer(wBits);
        var wdq = conv.At(wBits).Weights.UnpackOihw().Select(c => wq.Value(c)).ToArray();
        var y = new float[x.Length];
        FloatConv2d.Reference(xq, wdq, y, new ConvShape(H, W, conv.Channels, conv.Channels, 3));
        return y;
    }

    public static TheoryData<QuantizerKind, int> Models() => new()
    {
        { QuantizerKind.Ddtb, 8 }, { QuantizerKind.Ddtb, 4 }, { QuantizerKind.Ddtb, 2 },
        { QuantizerKind.Pams, 8 }, { QuantizerKind.Pams, 4 }, { QuantizerKind.Pams, 3 },
    };

    [Theory]
    [MemberData(nameof(Models))]
    public void IntegerForwardAgreesWithFakeQuantFloat(QuantizerKind kind, int bits)
    {
        var cfg = TestModels.Config(kind, bits, blocks: 3, gated: [1, 4]);
        var net = SrResNet.Load(TestModels.File(cfg, seed: bits));
        var lr = TestModels.Image(H, W);
        var trace = new ForwardTrace();
        var integer = net.Forward(lr, H, W, 1, trace);
        var (fake, fakeCodes) = FakeQuant(net, lr);

        // The two paths differ only in float rounding: the integer path sums exactly and
        // rounds once, the float path rounds after each of its 576 products. A code can
        // therefore flip only where a quantizer input lies within ~1e-5 of a rounding
        // boundary, which is rare: demand 99.9% identical codes at every layer.
        Assert.Equal(2 * cfg.Blocks, trace.Codes.Count);
        foreach (var (name, codes) in fakeCodes)
        {
            var mine = trace.Codes[name];
            double same = mine.Zip(codes).Count(p => p.First == p.Second) / (double)codes.Length;
            Assert.True(same >= 0.999, $"{name}: only {same:P3} of codes agree");
            // the test model must exercise the quantizers, not clip everything to one code
            Assert.True(mine.Distinct().Count() >= Math.Min(16, (1 << bits) / 2), $"{name}: codes use only {mine.Distinct().Count()} levels");
            // a flipped code moves by one step at most
            Assert.All(mine.Zip(codes), p => Assert.InRange(p.First - p.Second, -1, 1));
        }
        // HR output: one flipped code moves a value by one quantization step, which the
        // tail spreads over a few pixels; bound the effect at 0.5 grey levels, and require
        // the typical difference to be float noise.
        double maxAbs = 0, sumAbs = 0;
        for (int i = 0; i < fake.Length; i++)
        {
            double d = Math.Abs(fake[i] - integer[i]);
            maxAbs = Math.Max(maxAbs, d);
            sumAbs += d;
        }
        Assert.True(maxAbs <= 0.5, $"max |diff| {maxAbs}");
        Assert.True(sumAbs / fake.Length <= 1e-3, $"mean |diff| {sumAbs / fake.Length}");
    }

    [Fact]
    public void ForwardIsByteIdenticalForAnyThreadCount()
    {
        var net = SrResNet.Load(TestModels.File(TestModels.Config(QuantizerKind.Ddtb, 8, blocks: 2)));
        var lr = TestModels.Image(17, 9);
        var one = net.Forward(lr, 17, 9, 1);
        foreach (int t in new[] { 2, 3, 8 }) Assert.Equal(one, net.Forward(lr, 17, 9, t));
    }

    [Fact]
    public void FloatModelRunsAndScalesBy4()
    {
        var net = SrResNet.Load(TestModels.File(TestModels.Config(blocks: 2)));
        var output = net.Forward(TestModels.Image(5, 7), 5, 7);
        Assert.Equal(20 * 28 * 3, output.Length);
        Assert.All(output, v => Assert.True(float.IsFinite(v)));
    }

    [Fact]
    public void RejectsWrongInputSize()
    {
        var net = SrResNet.Load(TestModels.File(TestModels.Config(blocks: 1)));
        Assert.Throws<ArgumentException>(() => net.Forward(new float[10], 5, 7));
    }

    [Fact]
    public void QuantizerFormulasMatchTheSpec()
    {
        // DDTB 4-bit on [-1, 2]: s = 15/3 = 5, zp = round(-5) + 8 = 3
        var q = Quantizer.Asymmetric(-1f, 2f, 4);
        Assert.Equal(5f, q.S);
        Assert.Equal(3f, q.Zp);
        Assert.Equal(-8, q.Code(-1f));            // -5 - 3
        Assert.Equal(7, q.Code(2f));              // 10 - 3
        Assert.Equal(-3, q.Code(0f));             // real zero -> code -zp
        Assert.Equal(0f, q.Value(q.Code(0f)));    // and back to exactly 0
        Assert.Equal(-2, q.Code(0.3f));           // 1.5 - 3 = -1.5 -> -2 (half to even)
        Assert.Equal(0, q.UnsignedCode(-5f));     // clipped to lo
        Assert.Equal(-5, q.UnsignedZero);         // qlo + zp = -8 + 3
        // PAMS 3-bit, alpha 1.5: qmax 3, s = 2; 0.25*2 = 0.5 -> 0, 0.75*2 = 1.5 -> 2
        var p = Quantizer.Symmetric(1.5f, 3);
        Assert.Equal(0, p.Code(0.25f));
        Assert.Equal(2, p.Code(0.75f));
        Assert.Equal(-3, p.Code(-9f));
        Assert.Equal(1.0f, p.Value(2));
        Assert.Throws<ArgumentException>(() => Quantizer.Asymmetric(1f, 1f, 8));
        Assert.Throws<ArgumentException>(() => Quantizer.Symmetric(1f, 9));
    }

    // A block's conv2 epilogue quantizes x + block(x) for the next block's conv1
    // (BlockHandoff) instead of a separate pass over x: the forward must give the bytes of
    // blocks run one by one with nothing handed over, and the same codes, on 1 and 3 threads;
    // block 2's conv1 quantizer (layer 4) is gated, so block 1 must not hand it codes
    [Theory]
    [InlineData(QuantizerKind.Ddtb, 8)]
    [InlineData(QuantizerKind.Ddtb, 4)]
    [InlineData(QuantizerKind.Pams, 3)]
    public void HandedOverCodesGiveTheBytesOfQuantizingEachBlockInput(QuantizerKind kind, int bits)
    {
        var cfg = TestModels.Config(kind, bits, blocks: 4, gated: [1, 4]);
        var net = SrResNet.Load(TestModels.File(cfg, seed: bits + 7));
        var lr = TestModels.Image(H, W);
        Assert.Equal(kind == QuantizerKind.Ddtb, net.Blocks[2].Q1!.IsGated);   // PAMS has no gated quantizers: every block hands over
        foreach (int threads in new[] { 1, 3 })
        {
            var separate = new ForwardTrace();
            var headOut = net.Head(lr, H, W, threads);
            var x = (float[])headOut.Clone();
            for (int i = 0; i < net.Blocks.Length; i++) net.Blocks[i].Forward(x, H, W, net.DefaultPrecision, threads, separate, i);
            var expected = net.BodyEndAndTail(x, headOut, H, W, threads);

            var handed = new ForwardTrace();
            Assert.Equal(expected, net.Forward(lr, H, W, threads, handed));
            Assert.Equal(expected, net.Forward(lr, H, W, threads));   // pooled buffers, no trace
            Assert.Equal(separate.Codes.Keys.Order(), handed.Codes.Keys.Order());
            foreach (var (name, codes) in separate.Codes) Assert.True(codes.SequenceEqual(handed.Codes[name]), $"{name} differs on {threads} threads");
        }
    }

    // A block's pooled buffers come back holding an earlier user's values and are longer
    // than the feature: nothing may read past it or rely on them being clear. Before each
    // run the pools get arrays of the forward's length full of NaN, huge or negative values
    // and 0xFF or 0 bytes.
    [Theory]
    [InlineData(QuantizerKind.Ddtb, 8)]
    [InlineData(QuantizerKind.Pams, 4)]
    [InlineData(QuantizerKind.None, 32)]
    public void StaleValuesInPooledBlockBuffersDoNotChangeTheOutput(QuantizerKind kind, int bits)
    {
        var cfg = TestModels.Config(kind, bits, blocks: 3, gated: kind == QuantizerKind.Ddtb ? [1, 3, 5] : null);
        var net = SrResNet.Load(TestModels.File(cfg, seed: bits + 11));
        if (kind == QuantizerKind.Ddtb) Assert.True(net.Blocks[0].Q2!.IsGated);   // conv1's float output is then pooled
        var lr = TestModels.Image(H, W);
        var expected = net.Forward(lr, H, W, 1);
        int n = H * W * net.Config.Channels;
        Assert.NotEqual(n, (int)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)n));   // so a rented buffer is longer than the feature
        float[] poison = [float.NaN, 1e4f, -1e4f, 0.5f];
        for (int k = 0; k < poison.Length; k++)
        {
            var floats = Enumerable.Range(0, 4).Select(_ => System.Buffers.ArrayPool<float>.Shared.Rent(n)).ToArray();
            var bytes = Enumerable.Range(0, 4).Select(_ => System.Buffers.ArrayPool<byte>.Shared.Rent(n)).ToArray();
            foreach (var f in floats) { Array.Fill(f, poison[k]); System.Buffers.ArrayPool<float>.Shared.Return(f); }
            foreach (var b in bytes) { Array.Fill(b, (byte)(k % 2 == 0 ? 0xFF : 0)); System.Buffers.ArrayPool<byte>.Shared.Return(b); }
            Assert.Equal(expected, net.Forward(lr, H, W, 1));
        }
    }
}
