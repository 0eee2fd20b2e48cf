using System.Buffers.Binary;
using System.Text;
using System.Text.Json;

namespace RefQsr.Engine.Weights;

/// <summary>Parses and validates a safetensors container (docs/weights-format.md):
/// header length cap, UTF-8 JSON object, known dtypes, overflow-checked sizes, sorted,
/// contiguous, non-overlapping ranges ending exactly at the end of the file.</summary>
public static class SafetensorsReader
{
    public const long MaxHeaderBytes = 100_000_000;

    public static SafetensorsFile Read(string path)
    {
        var info = new FileInfo(path);
        if (!info.Exists) throw new FileNotFoundException($"model file not found: {path}", path);
        if (info.Length > int.MaxValue) throw new WeightsFormatException($"model file {path} is {info.Length} bytes, larger than this engine reads (2 GiB)");
        return Parse(File.ReadAllBytes(path));
    }

    public static SafetensorsFile Parse(byte[] file)
    {
        if (file.Length < 8) throw new WeightsFormatException($"file is {file.Length} bytes: too short for the 8-byte header length");
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(file);
        if (n > MaxHeaderBytes) throw new WeightsFormatException($"header length {n} exceeds the {MaxHeaderBytes}-byte limit");
        if (n > (ulong)(file.Length - 8)) throw new WeightsFormatException($"header length {n} runs past the end of the {file.Length}-byte file");
        int headerLen = (int)n;
        string json;
        try { json = new UTF8Encoding(false, true).GetString(file, 8, headerLen); }
        catch (DecoderFallbackException) { throw new WeightsFormatException("header is not valid UTF-8"); }

        JsonDocument doc;
        try { doc = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = 16 }); }
        catch (JsonException e) { throw new WeightsFormatException($"header is not valid JSON: {e.Message}"); }
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object) throw new WeightsFormatException("header is not a JSON object");
            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            var entries = new List<(string Name, TensorDType DType, long[] Shape, long Begin, long End)>();
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var prop in doc.RootElement.EnumerateObject())
            {
                if (!seen.Add(prop.Name)) throw new WeightsFormatException($"header names '{prop.Name}' twice");
                if (prop.Name == "__metadata__")
                {
                    if (prop.Value.ValueKind != JsonValueKind.Object) throw new WeightsFormatException("__metadata__ is not an object");
                    foreach (var m in prop.Value.EnumerateObject())
                    {
                        if (m.Value.ValueKind != JsonValueKind.String) throw new WeightsFormatException($"__metadata__.{m.Name} is not a string");
                        metadata[m.Name] = m.Value.GetString()!;
                    }
                    continue;
                }
                entries.Add(ParseEntry(prop.Name, prop.Value));
            }

            long dataLen = file.Length - 8 - headerLen;
            var sorted = entries.OrderBy(e => e.Begin).ThenBy(e => e.End).ToList();
            long expected = 0;
            foreach (var e in sorted)
            {
                if (e.Begin != expected)
                    throw new WeightsFormatException(e.Begin < expected
                        ? $"tensor '{e.Name}': data range [{e.Begin}, {e.End}) overlaps the previous tensor"
                        : $"tensor '{e.Name}': data range starts at {e.Begin}, leaving a gap after byte {expected}");
                expected = e.End;
            }
            if (expected != dataLen)
                throw new WeightsFormatException($"tensor data ends at byte {expected} but the file holds {dataLen} data bytes");

            var tensors = new Dictionary<string, Tensor>(StringComparer.Ordinal);
            int dataStart = 8 + headerLen;
            foreach (var e in entries)
                tensors[e.Name] = new Tensor(e.Name, e.DType, e.Shape, new ReadOnlyMemory<byte>(file, dataStart + (int)e.Begin, (int)(e.End - e.Begin)));
            return new SafetensorsFile(metadata, tensors);
        }
    }

    static (string, TensorDType, long[], long, long) ParseEntry(string name, JsonElement v)
    {
        if (v.ValueKind != JsonValueKind.Object) throw new WeightsFormatException($"tensor '{name}': entry is not an object");
        JsonElement? dtype = null, shape = null, offsets = null;
        foreach (var f in v.EnumerateObject())
        {
            switch (f.Name)
            {
                case "dtype": dtype = f.Value; break;
                case "shape": shape = f.Value; break;
                case "data_offsets": offsets = f.Value; break;
                default: throw new WeightsFormatException($"tensor '{name}': unknown field '{f.Name}'");
            }
        }
        if (dtype is null || dtype.Value.ValueKind != JsonValueKind.String) throw new WeightsFormatException($"tensor '{name}': missing or non-string dtype");
        if (!TensorDTypes.TryParse(dtype.Value.GetString()!, out var dt)) throw new WeightsFormatException($"tensor '{name}': unknown dtype '{dtype.Value.GetString()}'");
        if (shape is null || shape.Value.ValueKind != JsonValueKind.Array) throw new WeightsFormatException($"tensor '{name}': missing shape");
        var dims = new List<long>();
        foreach (var d in shape.Value.EnumerateArray())
        {
            if (d.ValueKind != JsonValueKind.Number || !d.TryGetInt64(out long dim) || dim < 0)
                throw new WeightsFormatException($"tensor '{name}': shape entries must be non-negative integers");
            dims.Add(dim);
        }
        if (offsets is null || offsets.Value.ValueKind != JsonValueKind.Array || offsets.Value.GetArrayLength() != 2)
            throw new WeightsFormatException($"tensor '{name}': data_offsets must be [begin, end]");
        long[] off = new long[2];
        for (int i = 0; i < 2; i++)
            if (!offsets.Value[i].TryGetInt64(out off[i]) || off[i] < 0)
                throw new WeightsFormatException($"tensor '{name}': data_offsets must be non-negative integers");
        if (off[1] < off[0]) throw new WeightsFormatException($"tensor '{name}': data_offsets end {off[1]} is before begin {off[0]}");
        long bytes;
        try
        {
            bytes = TensorDTypes.Size(dt);
            foreach (var d in dims) bytes = checked(bytes * d);
        }
        catch (OverflowException) { throw new WeightsFormatException($"tensor '{name}': shape [{string.Join(", ", dims)}] overflows its byte size"); }
        if (bytes != off[1] - off[0])
            throw new WeightsFormatException($"tensor '{name}': shape [{string.Join(", ", dims)}] x {dt} is {bytes} bytes but data_offsets span {off[1] - off[0]}");
        return (name, dt, dims.ToArray(), off[0], off[1]);
    }
}
