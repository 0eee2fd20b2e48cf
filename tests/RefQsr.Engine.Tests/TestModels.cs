using RefQsr.Engine.Weights;

namespace RefQsr.Engine.Tests;

/// <summary>Builds complete, valid model files with seeded random weights, so tests do not
/// depend on trained weights.</summary>
internal static class TestModels
{
    public static ModelConfig Config(QuantizerKind q = QuantizerKind.None, int bits = 8, int blocks = 3, int[]? gated = null)
        => new()
        {
            Network = NetworkKind.SrResNet, Scale = 4, Channels = 64, Blocks = blocks, Quantizer = q,
            WeightBits = q == QuantizerKind.None ? 32 : bits, ActivationBits = q == QuantizerKind.None ? 32 : bits,
            DdtbGated = q == QuantizerKind.Ddtb ? gated ?? [1] : [],
            TrainJson = "{\"note\":\"random test model\"}",
        };

    /// <summary>A RefQSR model: blocks 1 .. blocks−3 are the query path's low blocks, the
    /// last two are replaced by RefER blocks.</summary>
    public static ModelConfig RefQsrConfig(QuantizerKind q = QuantizerKind.Ddtb, int bHigh = 8, int bLow = 4, int blocks = 4, int[]? gated = null)
        => Config(q, bHigh, blocks, gated) with
        {
            RefQsr = new RefQsrSettings(bHigh, bLow, RefQsrSettings.MediumBits(bHigh, bLow), 0.5, [blocks - 2, blocks - 1]),
        };

    public static ModelConfig ClustBlockConfig(int classes = 10)
        => new() { Network = NetworkKind.ClustBlock, Classes = classes, TrainJson = "{\"note\":\"random test model\"}" };

    public static List<Tensor> Tensors(ModelConfig c, int seed = 1)
    {
        if (c.Network == NetworkKind.ClustBlock) return ClustBlockTensors(c, seed);
        var rng = new Random(seed);
        var list = new List<Tensor>();
        foreach (var (name, shape) in TensorManifest.Expected(c).OrderBy(k => k.Key, StringComparer.Ordinal))
        {
            long n = shape.Aggregate(1L, (a, b) => a * b);
            var v = new float[n];
            for (int i = 0; i < n; i++) v[i] = Value(name, shape, rng, v, i);
            list.Add(Tensor.FromFloats(name, v, shape));
        }
        // weight ranges must match the master weights they clip
        var byName = list.ToDictionary(t => t.Name);
        foreach (var t in list.Where(t => t.Name.EndsWith(".w_range", StringComparison.Ordinal)).ToList())
        {
            var w = byName[t.Name.Replace(".w_range", ".weight")].ToFloats();
            var sorted = w.Order().ToArray();
            float lo = sorted[(int)(0.01 * (sorted.Length - 1))], hi = sorted[(int)(0.99 * (sorted.Length - 1))];
            float[] r = c.Quantizer == QuantizerKind.Pams ? [-w.Max(MathF.Abs), w.Max(MathF.Abs)] : [lo, hi];
            list[list.IndexOf(t)] = Tensor.FromFloats(t.Name, r, 2);
        }
        return list;
    }

    // ClustBlock: weights at scales that keep every layer's input inside its range, ranges
    // the weights' min/max (docs/refqsr.md), input ranges picked for those weights
    static List<Tensor> ClustBlockTensors(ModelConfig c, int seed)
    {
        var rng = new Random(seed);
        var list = new List<Tensor>();
        var ranges = new Dictionary<string, float[]> { ["q1.range"] = [0f, 255f], ["q2.range"] = [0f, 6f], ["q3.range"] = [0f, 3f], ["q4.range"] = [0f, 1.5f] };
        foreach (var (name, shape) in TensorManifest.Expected(c).OrderBy(k => k.Key, StringComparer.Ordinal))
        {
            long n = shape.Aggregate(1L, (a, b) => a * b);
            var v = new float[n];
            if (ranges.TryGetValue(name, out var r)) v = r;
            else if (!name.EndsWith(".w_range", StringComparison.Ordinal))
            {
                float scale = name switch { "conv1.weight" => 0.01f, "fc.weight" => 1f, _ when name.EndsWith(".bias") => 0.05f, _ => 0.06f };
                for (int i = 0; i < n; i++) v[i] = (float)(rng.NextDouble() * 2 - 1) * scale;
            }
            list.Add(Tensor.FromFloats(name, v, shape));
        }
        var byName = list.ToDictionary(t => t.Name);
        for (int i = 0; i < list.Count; i++)
            if (list[i].Name.EndsWith(".w_range", StringComparison.Ordinal))
            {
                var w = byName[list[i].Name.Replace(".w_range", ".weight")].ToFloats();
                list[i] = Tensor.FromFloats(list[i].Name, [w.Min(), w.Max()], 2);
            }
        return list;
    }

    static float Value(string name, long[] shape, Random rng, float[] _, int i)
    {
        float g = (float)(rng.NextDouble() * 2 - 1);
        if (name == "head.weight") return g * 0.004f;
        if (name.EndsWith("conv.weight", StringComparison.Ordinal) && name.StartsWith("up.", StringComparison.Ordinal)) return g * 0.06f;
        if (name == "tail.weight") return g * 0.02f;
        if (name.Contains(".gate.conv")) return g * 0.2f;
        if (name.EndsWith(".weight", StringComparison.Ordinal) && shape.Length == 4) return g * 0.05f;
        if (name.EndsWith("act.weight", StringComparison.Ordinal)) return 0.25f;
        if (name.EndsWith("running_var", StringComparison.Ordinal)) return 0.8f + 0.4f * (float)rng.NextDouble();
        if (name.EndsWith("running_mean", StringComparison.Ordinal)) return g * 0.1f;
        if (name.Contains(".bn") && name.EndsWith(".weight", StringComparison.Ordinal)) return 0.8f + 0.4f * (float)rng.NextDouble();
        if (name.Contains(".bn") && name.EndsWith(".bias", StringComparison.Ordinal)) return g * 0.1f;
        if (name.EndsWith("alpha_l", StringComparison.Ordinal)) return -2.5f + 0.5f * g;
        if (name.EndsWith("alpha_u", StringComparison.Ordinal)) return 2.5f + 0.5f * g;
        if (name.EndsWith(".alpha", StringComparison.Ordinal)) return 2.5f + 0.5f * g;
        if (name.EndsWith("conv2.bias", StringComparison.Ordinal)) return g * 0.1f;
        return g;
    }

    public static byte[] Bytes(ModelConfig c, int seed = 1) => ModelFile.Serialize(c, Tensors(c, seed));

    public static ModelFile File(ModelConfig c, int seed = 1) => ModelFile.Parse(Bytes(c, seed));

    /// <summary>A deterministic synthetic RGB image (gradients, edges, noise) as HWC floats.</summary>
    public static float[] Image(int h, int w, int seed = 3)
    {
        var rng = new Random(seed);
        var img = new float[h * w * 3];
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                for (int c = 0; c < 3; c++)
                {
                    double v = 128 + 80 * Math.Sin(0.3 * x + c) * Math.Cos(0.2 * y) + (x > w / 2 ? 30 : -30) + rng.Next(-10, 11);
                    img[(y * w + x) * 3 + c] = (float)Math.Clamp(Math.Round(v), 0, 255);
                }
        return img;
    }
}
