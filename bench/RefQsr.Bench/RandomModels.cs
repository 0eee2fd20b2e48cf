using RefQsr.Engine.Weights;

namespace RefQsr.Bench;

/// <summary>Valid 16-block SRResNet model files with seeded random weights.</summary>
internal static class RandomModels
{
    public static ModelFile SrResNet(QuantizerKind q, int bits)
    {
        var cfg = new ModelConfig
        {
            Quantizer = q, WeightBits = q == QuantizerKind.None ? 32 : bits, ActivationBits = q == QuantizerKind.None ? 32 : bits,
            DdtbGated = q == QuantizerKind.Ddtb ? [1, 10, 20] : [],
        };
        var rng = new Random(1);
        var tensors = new List<Tensor>();
        foreach (var (name, shape) in TensorManifest.Expected(cfg))
        {
            long n = shape.Aggregate(1L, (a, b) => a * b);
            var v = new float[n];
            for (int i = 0; i < n; i++)
                v[i] = name.EndsWith("w_range", StringComparison.Ordinal) ? (i == 0 ? -0.05f : 0.05f)
                    : name.EndsWith("alpha_l", StringComparison.Ordinal) ? -2f
                    : name.Contains("alpha", StringComparison.Ordinal) ? 2f
                    : name.EndsWith("running_var", StringComparison.Ordinal) ? 1f
                    : (float)(rng.NextDouble() - 0.5) * 0.05f;
            tensors.Add(Tensor.FromFloats(name, v, shape));
        }
        return ModelFile.Parse(ModelFile.Serialize(cfg, tensors));
    }
}
