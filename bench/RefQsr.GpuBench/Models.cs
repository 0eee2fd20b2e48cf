using RefQsr.Engine.Weights;

namespace RefQsr.GpuBench;

/// <summary>Valid SRResNet model files with seeded random weights at scales that keep every
/// activation inside its quantizer's range (like the tests' TestModels).</summary>
internal static class Models
{
    public static ModelFile SrResNet(QuantizerKind q, int bits, int blocks, int channels, int[] gated, int seed = 7)
    {
        var cfg = new ModelConfig
        {
            Network = NetworkKind.SrResNet, Scale = 4, Channels = channels, Blocks = blocks, Quantizer = q,
            WeightBits = q == QuantizerKind.None ? 32 : bits, ActivationBits = q == QuantizerKind.None ? 32 : bits,
            DdtbGated = q == QuantizerKind.Ddtb ? gated : [], TrainJson = "{\"note\":\"random gpu-bench model\"}",
        };
        var rng = new Random(seed);
        var tensors = new List<Tensor>();
        foreach (var (name, shape) in TensorManifest.Expected(cfg).OrderBy(k => k.Key, StringComparer.Ordinal))
        {
            long n = shape.Aggregate(1L, (a, b) => a * b);
            var v = new float[n];
            for (int i = 0; i < n; i++) v[i] = Value(name, shape, rng);
            tensors.Add(Tensor.FromFloats(name, v, shape));
        }
        var byName = tensors.ToDictionary(t => t.Name);
        for (int i = 0; i < tensors.Count; i++)
            if (tensors[i].Name.EndsWith(".w_range", StringComparison.Ordinal))
            {
                var w = byName[tensors[i].Name.Replace(".w_range", ".weight")].ToFloats();
                var sorted = w.Order().ToArray();
                float m = w.Max(MathF.Abs);
                float[] r = q == QuantizerKind.Pams ? [-m, m] : [sorted[(int)(0.01 * (sorted.Length - 1))], sorted[(int)(0.99 * (sorted.Length - 1))]];
                tensors[i] = Tensor.FromFloats(tensors[i].Name, r, 2);
            }
        return ModelFile.Parse(ModelFile.Serialize(cfg, tensors));
    }

    static float Value(string name, long[] shape, Random rng)
    {
        float g = (float)(rng.NextDouble() * 2 - 1);
        if (name == "head.weight") return g * 0.004f;
        if (name.StartsWith("up.", StringComparison.Ordinal) && name.EndsWith("conv.weight", StringComparison.Ordinal)) return g * 0.06f;
        if (name == "tail.weight") return g * 0.02f;
        if (name.Contains(".gate.conv")) return g * 0.2f;
        if (name.EndsWith(".weight", StringComparison.Ordinal) && shape.Length == 4) return g * 0.05f;
        if (name.EndsWith("act.weight", StringComparison.Ordinal)) return 0.25f;
        if (name.EndsWith("running_var", StringComparison.Ordinal)) return 0.8f + 0.4f * (float)rng.NextDouble();
        if (name.EndsWith("running_mean", StringComparison.Ordinal)) return g * 0.1f;
        if (name.Contains(".bn") && name.EndsWith(".weight", StringComparison.Ordinal)) return 0.8f + 0.4f * (float)rng.NextDouble();
        if (name.Contains(".bn") && name.EndsWith(".bias", StringComparison.Ordinal)) return g * 0.1f;
        if (name.EndsWith("alpha_l", StringComparison.Ordinal)) return -2.5f + 0.5f * g;
        if (name.EndsWith("alpha_u", StringComparison.Ordinal) || name.EndsWith(".alpha", StringComparison.Ordinal)) return 2.5f + 0.5f * g;
        if (name.EndsWith("conv2.bias", StringComparison.Ordinal)) return g * 0.1f;
        return g;
    }

    public static float[] Image(int h, int w, int seed = 3)
    {
        var rng = new Random(seed);
        var img = new float[h * w * 3];
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                for (int c = 0; c < 3; c++)
                    img[(y * w + x) * 3 + c] = (float)Math.Clamp(Math.Round(128 + 80 * Math.Sin(0.3 * x + c) * Math.Cos(0.2 * y) + rng.Next(-10, 11)), 0, 255);
        return img;
    }
}
