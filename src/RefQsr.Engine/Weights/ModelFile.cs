namespace RefQsr.Engine.Weights;

/// <summary>A validated model file: its config and exactly the tensors that config needs.</summary>
public sealed class ModelFile
{
    public ModelConfig Config { get; }
    public IReadOnlyDictionary<string, Tensor> Tensors { get; }

    ModelFile(ModelConfig config, IReadOnlyDictionary<string, Tensor> tensors)
    {
        Config = config; Tensors = tensors;
    }

    public static ModelFile Load(string path)
    {
        try { return FromContainer(SafetensorsReader.Read(path)); }
        catch (WeightsFormatException e) { throw new WeightsFormatException($"{Path.GetFileName(path)}: {e.Message}"); }
    }

    public static ModelFile Parse(byte[] bytes) => FromContainer(SafetensorsReader.Parse(bytes));

    public static ModelFile FromContainer(SafetensorsFile f)
    {
        if (!f.Metadata.TryGetValue("format", out var fmt) || fmt != ModelConfig.FormatName)
            throw new WeightsFormatException($"__metadata__.format: expected '{ModelConfig.FormatName}', found {(fmt is null ? "nothing" : $"'{fmt}'")}");
        if (!f.Metadata.TryGetValue("format_version", out var ver))
            throw new WeightsFormatException("__metadata__.format_version: missing");
        if (ver != ModelConfig.FormatVersion)
            throw new WeightsFormatException($"__metadata__.format_version: version '{ver}' is not supported (this engine reads '{ModelConfig.FormatVersion}')");
        if (!f.Metadata.TryGetValue("config", out var cfgJson))
            throw new WeightsFormatException("__metadata__.config: missing");
        var cfg = ModelConfig.Parse(cfgJson);
        var expected = TensorManifest.Expected(cfg);
        foreach (var (name, shape) in expected.OrderBy(k => k.Key, StringComparer.Ordinal))
        {
            if (!f.Tensors.TryGetValue(name, out var t))
                throw new WeightsFormatException($"tensor '{name}': missing (needed by {cfg.Describe()})");
            if (t.DType != TensorDType.F32)
                throw new WeightsFormatException($"tensor '{name}': dtype {t.DType}, expected F32");
            if (!t.Shape.SequenceEqual(shape))
                throw new WeightsFormatException($"tensor '{name}': shape {t.ShapeText}, expected [{string.Join(", ", shape)}]");
        }
        foreach (var name in f.Tensors.Keys.OrderBy(k => k, StringComparer.Ordinal))
            if (!expected.ContainsKey(name))
                throw new WeightsFormatException($"tensor '{name}': not part of a {cfg.Describe()} model");
        return new ModelFile(cfg, f.Tensors);
    }

    public float[] Floats(string name) => Tensors[name].ToFloats();

    public float Scalar(string name) => Tensors[name].ToFloats()[0];

    public long ParameterCount => Tensors.Values.Sum(t => t.ElementCount);

    public static byte[] Serialize(ModelConfig config, IEnumerable<Tensor> tensors)
        => SafetensorsWriter.Serialize(new Dictionary<string, string>
        {
            ["format"] = ModelConfig.FormatName,
            ["format_version"] = ModelConfig.FormatVersion,
            ["config"] = config.ToJson(),
        }, tensors);
}
