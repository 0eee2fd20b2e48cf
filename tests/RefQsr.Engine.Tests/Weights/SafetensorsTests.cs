using System.Buffers.Binary;
using System.Text;
using RefQsr.Engine.Weights;

namespace RefQsr.Engine.Tests.Weights;

public class SafetensorsTests
{
    static byte[] Container(string headerJson, int dataBytes)
    {
        var h = Encoding.UTF8.GetBytes(headerJson);
        var b = new byte[8 + h.Length + dataBytes];
        BinaryPrimitives.WriteUInt64LittleEndian(b, (ulong)h.Length);
        h.CopyTo(b, 8);
        return b;
    }

    static string Error(byte[] file) => Assert.Throws<WeightsFormatException>(() => SafetensorsReader.Parse(file)).Message;

    [Fact]
    public void WriterOutputReadsBackIdentically()
    {
        var t1 = Tensor.FromFloats("a", [1f, -2.5f, float.Epsilon, 3e38f], 2, 2);
        var t2 = new Tensor("b", TensorDType.I8, [3], new byte[] { 1, 255, 7 });
        var meta = new Dictionary<string, string> { ["x"] = "y" };
        var bytes = SafetensorsWriter.Serialize(meta, [t2, t1]);
        var f = SafetensorsReader.Parse(bytes);
        Assert.Equal("y", f.Metadata["x"]);
        Assert.Equal(t1.ToFloats(), f.Tensors["a"].ToFloats());
        Assert.Equal([2L, 2L], f.Tensors["a"].Shape);
        Assert.Equal(new byte[] { 1, 255, 7 }, f.Tensors["b"].Data.ToArray());
        Assert.Equal(0UL, (BinaryPrimitives.ReadUInt64LittleEndian(bytes) + 8) % 8); // data 8-aligned
    }

    [Fact]
    public void ModelFileRoundTripKeepsConfigAndTensors()
    {
        var cfg = TestModels.Config(QuantizerKind.Ddtb, 4, blocks: 2, gated: [0, 3]);
        var tensors = TestModels.Tensors(cfg);
        var file = ModelFile.Parse(ModelFile.Serialize(cfg, tensors));
        Assert.Equal(cfg.ToJson(), file.Config.ToJson());
        Assert.Equal(tensors.Count, file.Tensors.Count);
        foreach (var t in tensors) Assert.Equal(t.ToFloats(), file.Tensors[t.Name].ToFloats());
    }

    [Fact] public void RejectsShortFile() => Assert.Contains("too short", Error(new byte[5]));

    [Fact]
    public void RejectsHugeHeaderLength()
    {
        var b = new byte[16];
        BinaryPrimitives.WriteUInt64LittleEndian(b, 200_000_000);
        Assert.Contains("limit", Error(b));
    }

    [Fact]
    public void RejectsHeaderPastEnd()
    {
        var b = new byte[16];
        BinaryPrimitives.WriteUInt64LittleEndian(b, 100);
        Assert.Contains("past the end", Error(b));
    }

    [Fact]
    public void RejectsInvalidUtf8()
    {
        var b = new byte[10];
        BinaryPrimitives.WriteUInt64LittleEndian(b, 2);
        b[8] = 0xC3; b[9] = 0x28;
        Assert.Contains("UTF-8", Error(b));
    }

    [Fact] public void RejectsNonObjectHeader() => Assert.Contains("not a JSON object", Error(Container("[1,2]", 0)));
    [Fact] public void RejectsBadJson() => Assert.Contains("not valid JSON", Error(Container("{\"a\":", 0)));

    [Fact]
    public void RejectsUnknownDtype()
        => Assert.Contains("'w': unknown dtype 'F16'", Error(Container("{\"w\":{\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[0,2]}}", 2)));

    [Fact]
    public void RejectsShapeThatDisagreesWithByteRange()
        => Assert.Contains("'w': shape [3] x F32 is 12 bytes but data_offsets span 8",
            Error(Container("{\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8)));

    [Fact]
    public void RejectsOverflowingShape()
        => Assert.Contains("overflows", Error(Container("{\"w\":{\"dtype\":\"F64\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,8]}}", 8)));

    [Fact]
    public void RejectsGapBetweenTensors()
        => Assert.Contains("'b': data range starts at 8, leaving a gap after byte 4",
            Error(Container("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}", 12)));

    [Fact]
    public void RejectsOverlappingTensors()
        => Assert.Contains("overlaps",
            Error(Container("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8)));

    [Fact]
    public void RejectsTrailingBytes()
        => Assert.Contains("data ends at byte 4 but the file holds 8",
            Error(Container("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 8)));

    [Fact]
    public void RejectsDuplicateNames()
        => Assert.Contains("twice",
            Error(Container("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8)));

    [Fact]
    public void RejectsUnknownEntryField()
        => Assert.Contains("unknown field 'extra'",
            Error(Container("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"extra\":1}}", 4)));

    [Fact]
    public void RejectsNonStringMetadata()
        => Assert.Contains("__metadata__.v is not a string", Error(Container("{\"__metadata__\":{\"v\":1}}", 0)));
}

public class ModelFileValidationTests
{
    static string Error(ModelConfig cfg, Func<List<Tensor>, List<Tensor>> edit, Dictionary<string, string>? meta = null)
    {
        var tensors = edit(TestModels.Tensors(cfg));
        var m = meta ?? new Dictionary<string, string> { ["format"] = "refqsr", ["format_version"] = "1", ["config"] = cfg.ToJson() };
        var bytes = SafetensorsWriter.Serialize(m, tensors);
        return Assert.Throws<WeightsFormatException>(() => ModelFile.Parse(bytes)).Message;
    }

    [Fact]
    public void NamesAMissingTensor()
        => Assert.Contains("tensor 'body.1.bn2.running_var': missing",
            Error(TestModels.Config(blocks: 2), l => l.Where(t => t.Name != "body.1.bn2.running_var").ToList()));

    [Fact]
    public void NamesAWrongShape()
        => Assert.Contains("tensor 'tail.weight': shape [3, 64, 9], expected [3, 64, 9, 9]",
            Error(TestModels.Config(blocks: 2), l => l.Select(t => t.Name == "tail.weight"
                ? Tensor.FromFloats("tail.weight", new float[3 * 64 * 9], 3, 64, 9) : t).ToList()));

    [Fact]
    public void NamesAnUnexpectedTensor()
        => Assert.Contains("tensor 'extra.weight': not part of",
            Error(TestModels.Config(blocks: 2), l => [.. l, Tensor.FromFloats("extra.weight", [1f], 1)]));

    [Fact]
    public void QuantizedModelNeedsItsQuantizerTensors()
        => Assert.Contains("tensor 'body.0.q1.alpha_l': missing",
            Error(TestModels.Config(QuantizerKind.Ddtb, blocks: 2), l => l.Where(t => t.Name != "body.0.q1.alpha_l").ToList()));

    [Fact]
    public void GatedQuantizerNeedsItsGate()
        => Assert.Contains("tensor 'body.0.q2.gate.conv2.bias': missing",
            Error(TestModels.Config(QuantizerKind.Ddtb, blocks: 2, gated: [1]), l => l.Where(t => t.Name != "body.0.q2.gate.conv2.bias").ToList()));

    [Fact]
    public void RejectsUnknownFormatVersion()
    {
        var cfg = TestModels.Config(blocks: 1);
        Assert.Contains("version '2' is not supported",
            Error(cfg, l => l, new() { ["format"] = "refqsr", ["format_version"] = "2", ["config"] = cfg.ToJson() }));
    }

    [Fact]
    public void RejectsMissingConfig()
        => Assert.Contains("config: missing", Error(TestModels.Config(blocks: 1), l => l, new() { ["format"] = "refqsr", ["format_version"] = "1" }));

    [Theory]
    [InlineData("{\"network\":\"vgg\"}", "unknown network 'vgg'")]
    [InlineData("{\"network\":\"srresnet\",\"scale\":4,\"channels\":64,\"blocks\":2,\"quantizer\":\"ddtb\",\"w_bits\":9,\"a_bits\":8}", "config.w_bits: 9 is outside 2..8")]
    [InlineData("{\"network\":\"srresnet\",\"scale\":3,\"channels\":64,\"blocks\":2,\"quantizer\":\"none\"}", "config.scale: 3 is outside 4..4")]
    [InlineData("{\"network\":\"srresnet\",\"scale\":4,\"channels\":64,\"blocks\":2,\"quantizer\":\"lsq\"}", "unknown quantizer 'lsq'")]
    [InlineData("{\"network\":\"srresnet\",\"scale\":4,\"channels\":64,\"blocks\":2,\"quantizer\":\"ddtb\",\"w_bits\":8,\"a_bits\":8,\"ddtb_gated\":[7]}", "config.ddtb_gated")]
    public void RejectsBadConfig(string json, string expected)
        => Assert.Contains(expected, Assert.Throws<WeightsFormatException>(() => ModelConfig.Parse(json)).Message);

    [Fact]
    public void NetworkLoadRejectsNonFiniteWeights()
    {
        var cfg = TestModels.Config(blocks: 1);
        var tensors = TestModels.Tensors(cfg).Select(t => t.Name == "head_act.weight" ? Tensor.FromFloats(t.Name, [float.NaN], 1) : t).ToList();
        var f = ModelFile.Parse(ModelFile.Serialize(cfg, tensors));
        Assert.Contains("'head_act.weight': holds a non-finite value",
            Assert.Throws<WeightsFormatException>(() => Engine.Networks.SrResNet.Load(f)).Message);
    }
}
