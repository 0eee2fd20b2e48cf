using System.Buffers.Binary;
using System.Text;

namespace RefQsr.Cli;

/// <summary>PNG chunks at the byte level (PNG 1.2, §3.2: length, type, data, CRC), for the
/// ancillary chunks ImageSharp 2.1 neither reads nor writes.</summary>
internal static class PngChunks
{
    const int SignatureBytes = 8;
    const int HeaderEnd = SignatureBytes + 4 + 4 + 13 + 4;   // signature, then IHDR's length, type, data, CRC

    /// <summary>A chunk's header as <see cref="Walk"/> finds it: its type, the length of its
    /// data, where the data starts, and whether the data and CRC are all in the stream.</summary>
    public readonly record struct Chunk(string Type, long Length, long DataStart, bool Whole);

    /// <summary>The chunk headers from the signature's end, in file order, by their lengths alone,
    /// up to and including the first chunk that is not <see cref="Chunk.Whole"/> (the one a cut
    /// file stops inside). Each header is read where the one before it says its chunk ends, so a
    /// caller may read a chunk's data before taking the next.</summary>
    public static IEnumerable<Chunk> Walk(Stream s)
    {
        long at = SignatureBytes;
        var head = new byte[8];
        while (true)
        {
            s.Position = at;
            if (s.ReadAtLeast(head, 8, throwOnEndOfStream: false) < 8) yield break;
            long length = BinaryPrimitives.ReadUInt32BigEndian(head), end = at + 8 + length + 4;
            var chunk = new Chunk(Encoding.ASCII.GetString(head, 4, 4), length, at + 8, end <= s.Length);
            yield return chunk;
            if (!chunk.Whole) yield break;
            at = end;
        }
    }

    /// <summary>The chunks of <paramref name="types"/> that come before the image data, with
    /// an intact CRC and at most <paramref name="maxLength"/> bytes of data, in file order.
    /// Other chunks are skipped unread; a chunk cut short ends the walk.</summary>
    public static IEnumerable<(string Type, byte[] Data)> BeforeImageData(Stream s, IReadOnlySet<string> types, int maxLength)
    {
        var crc = new byte[4];
        foreach (var chunk in Walk(s))
        {
            if (chunk.Type is "IDAT" or "IEND" || !chunk.Whole) yield break;
            if (!types.Contains(chunk.Type) || chunk.Length > maxLength) continue;
            var data = new byte[chunk.Length];
            s.Position = chunk.DataStart;
            s.ReadExactly(data);
            s.ReadExactly(crc);
            // a damaged ancillary chunk is ignored (PNG 1.2, §12.13), not fatal
            if (BinaryPrimitives.ReadUInt32BigEndian(crc) == Crc32(Encoding.ASCII.GetBytes(chunk.Type), data)) yield return (chunk.Type, data);
        }
    }

    /// <summary>The PNG with <paramref name="chunks"/> right after IHDR, where the colour and density chunks
    /// must come (before PLTE and IDAT).</summary>
    public static byte[] InsertAfterHeader(byte[] png, IReadOnlyList<(string Type, byte[] Data)> chunks)
    {
        var result = new MemoryStream(png.Length + chunks.Sum(c => 12 + c.Data.Length));
        result.Write(png, 0, HeaderEnd);
        Span<byte> word = stackalloc byte[4];
        foreach (var (type, data) in chunks)
        {
            byte[] name = Encoding.ASCII.GetBytes(type);
            BinaryPrimitives.WriteUInt32BigEndian(word, (uint)data.Length);
            result.Write(word);
            result.Write(name);
            result.Write(data);
            BinaryPrimitives.WriteUInt32BigEndian(word, Crc32(name, data));
            result.Write(word);
        }
        result.Write(png, HeaderEnd, png.Length - HeaderEnd);
        return result.ToArray();
    }

    static readonly uint[] CrcTable = Enumerable.Range(0, 256).Select(n =>
    {
        uint c = (uint)n;
        for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        return c;
    }).ToArray();

    /// <summary>PNG's CRC-32 (ISO 3309) over a chunk's type and data.</summary>
    static uint Crc32(ReadOnlySpan<byte> type, ReadOnlySpan<byte> data)
    {
        uint c = 0xFFFFFFFFu;
        foreach (byte b in type) c = CrcTable[(c ^ b) & 0xFF] ^ (c >> 8);
        foreach (byte b in data) c = CrcTable[(c ^ b) & 0xFF] ^ (c >> 8);
        return c ^ 0xFFFFFFFFu;
    }
}
