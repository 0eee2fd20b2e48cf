using System.Buffers.Binary;

namespace RefQsr.Engine.Weights;

/// <summary>One named tensor of a model file: dtype, shape and its little-endian bytes.</summary>
public sealed class Tensor
{
    public string Name { get; }
    public TensorDType DType { get; }
    public IReadOnlyList<long> Shape { get; }
    public ReadOnlyMemory<byte> Data { get; }

    public Tensor(string name, TensorDType dtype, IReadOnlyList<long> shape, ReadOnlyMemory<byte> data)
    {
        Name = name; DType = dtype; Shape = shape; Data = data;
    }

    public static Tensor FromFloats(string name, float[] values, params long[] shape)
    {
        long n = 1;
        foreach (var d in shape) n = checked(n * d);
        if (n != values.Length) throw new ArgumentException($"tensor '{name}': {values.Length} values for shape [{string.Join(", ", shape)}]");
        var bytes = new byte[values.Length * 4];
        for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * 4), values[i]);
        return new Tensor(name, TensorDType.F32, shape, bytes);
    }

    public long ElementCount
    {
        get { long n = 1; foreach (var d in Shape) n *= d; return n; }
    }

    /// <summary>The values as float32 (the dtype must be F32).</summary>
    public float[] ToFloats()
    {
        if (DType != TensorDType.F32) throw new WeightsFormatException($"tensor '{Name}': dtype {DType}, expected F32");
        var span = Data.Span;
        var r = new float[span.Length / 4];
        for (int i = 0; i < r.Length; i++) r[i] = BinaryPrimitives.ReadSingleLittleEndian(span.Slice(i * 4));
        return r;
    }

    public string ShapeText => "[" + string.Join(", ", Shape) + "]";
}
