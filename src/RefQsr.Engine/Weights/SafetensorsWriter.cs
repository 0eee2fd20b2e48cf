using System.Buffers.Binary;
using System.Text;
using System.Text.Json;

namespace RefQsr.Engine.Weights;

/// <summary>Writes a safetensors container: tensors in name order, data aligned to 8 bytes
/// by padding the header with spaces (what the Python writer does too).</summary>
public static class SafetensorsWriter
{
    public static byte[] Serialize(IReadOnlyDictionary<string, string> metadata, IEnumerable<Tensor> tensors)
    {
        var list = tensors.OrderBy(t => t.Name, StringComparer.Ordinal).ToList();
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms))
        {
            w.WriteStartObject();
            w.WriteStartObject("__metadata__");
            foreach (var kv in metadata.OrderBy(k => k.Key, StringComparer.Ordinal)) w.WriteString(kv.Key, kv.Value);
            w.WriteEndObject();
            long offset = 0;
            foreach (var t in list)
            {
                w.WriteStartObject(t.Name);
                w.WriteString("dtype", t.DType.ToString());
                w.WriteStartArray("shape");
                foreach (var d in t.Shape) w.WriteNumberValue(d);
                w.WriteEndArray();
                w.WriteStartArray("data_offsets");
                w.WriteNumberValue(offset);
                w.WriteNumberValue(offset + t.Data.Length);
                w.WriteEndArray();
                w.WriteEndObject();
                offset += t.Data.Length;
            }
            w.WriteEndObject();
        }
        var header = ms.ToArray();
        int padded = (header.Length + 7) / 8 * 8;
        using var outStream = new MemoryStream();
        Span<byte> len = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(len, (ulong)padded);
        outStream.Write(len);
        outStream.Write(header);
        for (int i = header.Length; i < padded; i++) outStream.WriteByte((byte)' ');
        foreach (var t in list) outStream.Write(t.Data.Span);
        return outStream.ToArray();
    }

    public static void Write(string path, IReadOnlyDictionary<string, string> metadata, IEnumerable<Tensor> tensors)
        => File.WriteAllBytes(path, Serialize(metadata, tensors));
}
