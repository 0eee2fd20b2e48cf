using RefQsr.Engine.Weights;

namespace RefQsr.Engine.Tests.Weights;

public class RefQsrModelFileTests
{
    [Fact]
    public void ManifestListsQlowAndReferTensors()
    {
        var m = TensorManifest.Expected(TestModels.RefQsrConfig(QuantizerKind.Ddtb, 8, 4, blocks: 16));
        foreach (int i in Enumerable.Range(1, 13))
            Assert.Contains($"body.{i}.qlow2.alpha_u", m.Keys);
        Assert.DoesNotContain("body.0.qlow1.alpha_l", m.Keys);
        Assert.DoesNotContain("body.14.qlow1.alpha_l", m.Keys);
        Assert.Equal([64L, 64, 3, 3], m["refer.15.conv2.weight"]);
        Assert.Equal([2L], m["refer.14.conv1.w_range"]);
        Assert.Equal([1L], m["refer.14.act.weight"]);
        Assert.Contains("refer.15.q1.alpha_l", m.Keys);
        var pams = TensorManifest.Expected(TestModels.RefQsrConfig(QuantizerKind.Pams, 4, 2, blocks: 16));
        Assert.Contains("refer.14.q2.alpha", pams.Keys);
        Assert.Contains("body.13.qlow1.alpha", pams.Keys);
    }

    [Fact]
    public void ConfigRoundTripsAndLoads()
    {
        var c = TestModels.RefQsrConfig(QuantizerKind.Ddtb, 8, 3);
        var f = TestModels.File(c);
        Assert.Equal(new[] { 2, 3 }, f.Config.RefQsr!.RefErBlocks);
        Assert.Equal(6, f.Config.RefQsr.BMedium);
        Assert.Contains("RefQSR 8-3", f.Config.Describe());
    }

    [Theory]
    [InlineData("\"b_medium\": 6", "\"b_medium\": 5", "b_medium")]
    [InlineData("\"refer_blocks\": [2, 3]", "\"refer_blocks\": [1, 2]", "last 2 blocks")]
    [InlineData("\"a_bits\": 8", "\"a_bits\": 4", "b_high")]
    public void RejectsInconsistentRefQsrConfigs(string from, string to, string message)
    {
        var json = TestModels.RefQsrConfig(QuantizerKind.Pams, 8, 3).ToJson().Replace(":", ": ").Replace(",", ", ");
        Assert.Contains(from, json);
        var e = Assert.Throws<WeightsFormatException>(() => ModelConfig.Parse(json.Replace(from, to)));
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void MissingReferTensorIsNamed()
    {
        var c = TestModels.RefQsrConfig();
        var tensors = TestModels.Tensors(c).Where(t => t.Name != "refer.3.act.weight");
        var e = Assert.Throws<WeightsFormatException>(() => ModelFile.Parse(ModelFile.Serialize(c, tensors)));
        Assert.Contains("refer.3.act.weight", e.Message);
    }
}
