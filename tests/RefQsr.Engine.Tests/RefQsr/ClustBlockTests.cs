using RefQsr.Engine.Networks;
using RefQsr.Engine.Quantization;
using RefQsr.Engine.Weights;
using RefQsr.Kernels;

namespace RefQsr.Engine.Tests.RefQsr;

public class ClustBlockTests
{
    [Fact]
    public void LogitsAgreeWithAFakeQuantFloatForward()
    {
        var file = TestModels.File(TestModels.ClustBlockConfig(7));
        var cb = ClustBlock.Load(file);
        int h = 20, w = 17;
        var lr = TestModels.Image(h, w);
        var logits = cb.Logits(lr, h, w);
        Assert.Equal(7, logits.Length);
        var expected = FakeQuant(file, lr, h, w);
        for (int c = 0; c < 7; c++) Assert.Equal(expected[c], logits[c], 0.05f);
        Assert.True(logits.Max() - logits.Min() > 0.1f, "random test model must give distinct logits");
        Assert.Equal(logits, cb.Logits(lr, h, w, threads: 2));
    }

    [Fact]
    public void TinyPatchHasZeroPooledFeatures()
    {
        var cb = ClustBlock.Load(TestModels.File(TestModels.ClustBlockConfig()));
        var logits = cb.Logits(TestModels.Image(2, 9), 2, 9);
        Assert.Equal(10, logits.Length);
        Assert.All(logits, v => Assert.True(float.IsFinite(v)));
    }

    [Fact]
    public void RejectsAnSrModelAndADegenerateRange()
    {
        Assert.Throws<ArgumentException>(() => ClustBlock.Load(TestModels.File(TestModels.Config(blocks: 1))));
        var c = TestModels.ClustBlockConfig();
        var tensors = TestModels.Tensors(c).Select(t => t.Name == "q2.range" ? Tensor.FromFloats(t.Name, [1f, 1f], 2) : t);
        var e = Assert.Throws<WeightsFormatException>(() => ClustBlock.Load(ModelFile.Parse(ModelFile.Serialize(c, tensors))));
        Assert.Contains("q2.range", e.Message);
    }

    [Fact]
    public void MacsCountEveryLayer()
    {
        // 96x96 patch: conv1 32x32 outputs
        long area = 32 * 32;
        Assert.Equal(area * 64 * 27 + area * 64 * 64 * 9 + area * 32 * 64 * 9 + 32 * 10, ClustBlock.Macs(96, 96, 10));
    }

    static float[] FakeQuant(ModelFile f, float[] lr, int h, int w)
    {
        float[] Dq(float[] x, string range) { var q = Quantizer.Asymmetric(f.Floats(range)[0], f.Floats(range)[1], 8); return x.Select(v => q.Value(q.Code(v))).ToArray(); }
        float[] W(string n) { var r = f.Floats(n + ".w_range"); var q = Quantizer.Asymmetric(r[0], r[1], 8); return f.Floats(n + ".weight").Select(v => q.Value(q.Code(v))).ToArray(); }
        float[] BiasRelu(float[] x, string n) { var b = f.Floats(n + ".bias"); return x.Select((v, i) => Math.Max(0f, v + b[i % b.Length])).ToArray(); }
        int oh = (h - 3) / 3 + 1, ow = (w - 3) / 3 + 1;
        var x = Dq(lr, "q1.range");
        var w1 = W("conv1");
        var y1 = new float[oh * ow * 64];
        for (int oy = 0; oy < oh; oy++)
            for (int ox = 0; ox < ow; ox++)
                for (int co = 0; co < 64; co++)
                {
                    float s = 0;
                    for (int ci = 0; ci < 3; ci++)
                        for (int ky = 0; ky < 3; ky++)
                            for (int kx = 0; kx < 3; kx++)
                                s += x[((oy * 3 + ky) * w + ox * 3 + kx) * 3 + ci] * w1[((co * 3 + ci) * 3 + ky) * 3 + kx];
                    y1[(oy * ow + ox) * 64 + co] = s;
                }
        y1 = BiasRelu(y1, "conv1");
        var y2 = new float[oh * ow * 64];
        FloatConv2d.Reference(Dq(y1, "q2.range"), W("conv2"), y2, new ConvShape(oh, ow, 64, 64, 3));
        y2 = BiasRelu(y2, "conv2");
        var y3 = new float[oh * ow * 32];
        FloatConv2d.Reference(Dq(y2, "q3.range"), W("conv3"), y3, new ConvShape(oh, ow, 64, 32, 3));
        y3 = BiasRelu(y3, "conv3");
        var gap = Enumerable.Range(0, 32).Select(c => (float)(Enumerable.Range(0, oh * ow).Sum(p => (double)y3[p * 32 + c]) / (oh * ow))).ToArray();
        var g = Dq(gap, "q4.range");
        var wf = W("fc");
        var bias = f.Floats("fc.bias");
        return Enumerable.Range(0, bias.Length).Select(k => Enumerable.Range(0, 32).Sum(c => g[c] * wf[k * 32 + c]) + bias[k]).ToArray();
    }
}
