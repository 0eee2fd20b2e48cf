using RefQsr.Engine.Imaging;
using RefQsr.Engine.Inference;
using RefQsr.Engine.Networks;
using RefQsr.Engine.Weights;

namespace RefQsr.Engine.Tests.Weights;

/// <summary>Values a model file holds that no network can run with (found by mutating model
/// files at random and upscaling with them): rejected at load naming the tensors, and
/// arithmetic that overflows on an image reported as the model's fault, naming the patch
/// or the quantizer, never as a bad argument or a NaN deep in the merge.</summary>
public sealed class ModelValueTests
{
    static ModelFile Edited(ModelConfig c, string name, Func<float[], float[]> edit, string? name2 = null, Func<float[], float[]>? edit2 = null)
        => ModelFile.Parse(ModelFile.Serialize(c, TestModels.Tensors(c).Select(t =>
            t.Name == name ? Tensor.FromFloats(name, edit(t.ToFloats()), [.. t.Shape])
            : t.Name == name2 ? Tensor.FromFloats(name2, edit2!(t.ToFloats()), [.. t.Shape]) : t)));

    static string LoadError(ModelConfig c, string name, Func<float[], float[]> edit)
        => Assert.Throws<WeightsFormatException>(() => SrResNet.Load(Edited(c, name, edit))).Message;

    static float[] Set(float[] v, int i, float x) { v[i] = x; return v; }

    [Fact]
    public void NegativeVarianceIsNamed()
        => Assert.Contains("tensor 'body.1.bn2.running_var': variance -1 of channel 3 is negative",
            LoadError(TestModels.Config(QuantizerKind.Ddtb, 4, blocks: 2), "body.1.bn2.running_var", v => Set(v, 3, -1f)));

    [Fact]
    public void BatchNormThatFoldsPastFloat32IsNamed()
    {
        // γ = float.MaxValue over √(0.25 + ε): the folded scale overflows to infinity
        var f = Edited(TestModels.Config(blocks: 1), "body_end.bn.weight", v => Set(v, 7, float.MaxValue), "body_end.bn.running_var", v => Set(v, 7, 0.25f));
        Assert.Contains("batch norm 'body_end.bn': channel 7 folds to", Assert.Throws<WeightsFormatException>(() => SrResNet.Load(f)).Message);
    }

    [Theory]
    [InlineData(0f)]
    [InlineData(-2f)]
    [InlineData(1e-44f)]
    public void PamsBoundThatCannotQuantizeIsNamed(float alpha)
        => Assert.Contains("tensor 'body.0.q2.alpha': quantizer bound",
            LoadError(TestModels.Config(QuantizerKind.Pams, 4, blocks: 1), "body.0.q2.alpha", _ => [alpha]));

    [Fact]
    public void DdtbBoundsOutOfOrderAreNamed()
        => Assert.Contains("tensors 'body.1.q1.alpha_l' and 'body.1.q1.alpha_u': quantizer range [3, ",
            LoadError(TestModels.Config(QuantizerKind.Ddtb, 4, blocks: 2, gated: [0]), "body.1.q1.alpha_l", _ => [3f]));

    [Fact]
    public void GateQuantizerRangeIsNamed()
        => Assert.Contains("tensors 'body.0.q2.gate.q_mid.alpha_l' and 'body.0.q2.gate.q_mid.alpha_u'",
            LoadError(TestModels.Config(QuantizerKind.Ddtb, 4, blocks: 1, gated: [1]), "body.0.q2.gate.q_mid.alpha_u", _ => [-10f]));

    [Fact]
    public void WeightRangeTooNarrowForEightBitsIsNamed()
        => Assert.Contains("tensor 'body.0.conv1.w_range': quantizer range [0, 1E-44] is too narrow for 8-bit codes",
            LoadError(TestModels.Config(QuantizerKind.Ddtb, 4, blocks: 1), "body.0.conv1.w_range", _ => [0f, 1e-44f]));

    [Fact]
    public void ValidTestModelsOfEveryKindStillLoad()
    {
        // the checks must not refuse sound models (the shipped ones load in the parity tests)
        SrResNet.Load(TestModels.File(TestModels.Config()));
        SrResNet.Load(TestModels.File(TestModels.Config(QuantizerKind.Pams, 3, blocks: 2)));
        SrResNet.Load(TestModels.File(TestModels.Config(QuantizerKind.Ddtb, 2, blocks: 2, gated: [0, 1, 3])));
        SrResNet.Load(TestModels.File(TestModels.RefQsrConfig()));
    }

    [Fact]
    public void OverflowingWeightsAreTheModelsFaultNamingThePatch()
    {
        // tail weights of ±3e38: every output sums +inf and −inf, so NaN
        var net = SrResNet.Load(Edited(TestModels.Config(blocks: 1), "tail.weight", v => v.Select((_, i) => i % 2 == 0 ? 3e38f : -3e38f).ToArray()));
        var lr = SyntheticScene.Create(30, 20);
        var e = Assert.Throws<ModelArithmeticException>(() => new Upscaler(net).Run(lr, new UpscaleOptions { PatchSize = 24, Threads = 2 }));
        Assert.Contains("patch (0, 0) (LR 30x20 at 0, 0) holds NaN", e.Message);
        Assert.Contains("corrupt or badly trained model", e.Message);
    }

    [Fact]
    public void GateThatEmptiesItsRangeNamesTheQuantizer()
    {
        // a gate bias of −1e4 drives 2·sigmoid to exactly 0 for both bounds: the range [0, 0]
        var net = SrResNet.Load(Edited(TestModels.Config(QuantizerKind.Ddtb, 4, blocks: 1, gated: [1]), "body.0.q2.gate.conv2.bias", _ => [-1e4f, -1e4f]));
        var e = Assert.Throws<ModelArithmeticException>(() => new Upscaler(net).Run(SyntheticScene.Create(20, 16), new UpscaleOptions { FullImage = true }));
        Assert.Contains("quantizer 'body.0.q2': DDTB's dynamic gate scaled its range", e.Message);
        Assert.Contains("by (0, 0)", e.Message);
    }
}
