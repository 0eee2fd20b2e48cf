namespace RefQsr.Engine.Weights;

/// <summary>A parsed safetensors container: string metadata and named tensors.</summary>
public sealed class SafetensorsFile(IReadOnlyDictionary<string, string> metadata, IReadOnlyDictionary<string, Tensor> tensors)
{
    public IReadOnlyDictionary<string, string> Metadata { get; } = metadata;
    public IReadOnlyDictionary<string, Tensor> Tensors { get; } = tensors;
}
