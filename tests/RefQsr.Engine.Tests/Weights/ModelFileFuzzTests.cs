using System.Text.Json.Nodes;
using RefQsr.Engine.Imaging;
using RefQsr.Engine.Inference;
using RefQsr.Engine.Networks;
using RefQsr.Engine.Weights;

namespace RefQsr.Engine.Tests.Weights;

/// <summary>Model files mutated at random (seeded: bit flips, truncations, config edits,
/// special tensor values): each one loads and upscales, or fails with the engine's own errors,
/// <see cref="WeightsFormatException"/> at load or <see cref="ModelArithmeticException"/> on
/// the image. Any other exception is a defect of the kind this search found before.</summary>
public sealed class ModelFileFuzzTests
{
    static readonly ModelConfig[] Configs =
    [
        TestModels.Config(QuantizerKind.Ddtb, 4, blocks: 2, gated: [1]) with { Channels = 16 },
        TestModels.Config(QuantizerKind.Pams, 3, blocks: 2) with { Channels = 16 },
        TestModels.Config(blocks: 1) with { Channels = 16 },
        TestModels.RefQsrConfig(QuantizerKind.Ddtb, 8, 4, gated: [0]) with { Channels = 16 },
    ];
    static readonly Lazy<ClustBlock> Clust = new(() => ClustBlock.Load(TestModels.File(TestModels.ClustBlockConfig())));
    static readonly object[] ConfigValues = [0, -1, 1, 2, 3, 8, 9, 33, 100000, int.MaxValue, 1.5, "x", true];
    static readonly float[] TensorValues = [float.NaN, float.PositiveInfinity, float.NegativeInfinity, 1e30f, -1e30f, 0f, 1e-40f, -1f, float.MaxValue];

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void MutatedModelsFailOnlyWithTheEnginesErrors(int seed)
    {
        var rng = new Random(seed);
        var lr = SyntheticScene.Create(24, 20, seed);
        var originals = Configs.Select(c => TestModels.Bytes(c, seed)).ToArray();
        for (int it = 0; it < 120; it++)
        {
            byte[] bytes = Mutate((byte[])originals[rng.Next(originals.Length)].Clone(), rng, out string what);
            try
            {
                var net = SrResNet.Load(ModelFile.Parse(bytes));
                var options = new UpscaleOptions { PatchSize = 16, Threads = 1 + it % 2 };
                if (net.Config.RefQsr is not null) new RefQsrUpscaler(net, Clust.Value).Run(lr, options);
                else new Upscaler(net).Run(lr, options);
            }
            catch (Exception e) when (e is WeightsFormatException or ModelArithmeticException) { }
            catch (Exception e)
            {
                Assert.Fail($"seed {seed}, case {it} ({what}): {e.GetType().Name}: {e.Message}");
            }
        }
    }

    static byte[] Mutate(byte[] bytes, Random rng, out string what)
    {
        switch (rng.Next(5))
        {
            case 0:
                for (int k = 1 + rng.Next(4); k > 0; k--) bytes[rng.Next(bytes.Length)] ^= (byte)(1 << rng.Next(8));
                what = "bit flips";
                return bytes;
            case 1:
                int header = (int)BitConverter.ToUInt64(bytes, 0) + 8;
                bytes[8 + rng.Next(header - 8)] ^= (byte)(1 << rng.Next(8));
                what = "header bit flip";
                return bytes;
            case 2:
                what = "truncated";
                return bytes[..rng.Next(bytes.Length)];
        }
        var file = SafetensorsReader.Parse(bytes);
        var meta = file.Metadata.ToDictionary();
        var tensors = file.Tensors.Values.ToList();
        if (rng.Next(2) == 0)
        {
            var config = JsonNode.Parse(meta["config"])!.AsObject();
            var target = config["refqsr"] is JsonObject r && rng.Next(2) == 0 ? r : config;
            var keys = target.Select(p => p.Key).ToList();
            string key = keys[rng.Next(keys.Count)];
            target[key] = ConfigValues[rng.Next(ConfigValues.Length)] switch
            {
                int i => JsonValue.Create(i), double d => JsonValue.Create(d), string s => JsonValue.Create(s), bool b => JsonValue.Create(b), _ => null,
            };
            meta["config"] = config.ToJsonString();
            what = $"config {key} = {target[key]?.ToJsonString()}";
        }
        else
        {
            int ti = rng.Next(tensors.Count);
            var values = tensors[ti].ToFloats();
            float v = rng.Next(3) == 0 ? values[0] * MathF.Pow(10, rng.Next(-6, 7)) * (rng.Next(2) == 0 ? -1 : 1) : TensorValues[rng.Next(TensorValues.Length)];
            if (rng.Next(4) == 0) Array.Fill(values, v); else values[rng.Next(values.Length)] = v;
            tensors[ti] = Tensor.FromFloats(tensors[ti].Name, values, [.. tensors[ti].Shape]);
            what = $"tensor {tensors[ti].Name} gets {v}";
        }
        return SafetensorsWriter.Serialize(meta, tensors);
    }
}
