using System.Buffers.Binary;
using System.Text;

namespace RefQsr.Cli;

/// <summary>PNG chunks at the byte level (PNG 1.2, §3.2: length, type, data, CRC), for the
/// ancillary chunks ImageSharp 2.1 neither reads nor writes.</summary>
internal static class PngChunks
{
    const int SignatureBytes = 8;
    const int HeaderEnd = SignatureBytes + 4 + 4 + 13 + 4;   // signature, then IHDR's length, type, data, CRC

    /// <summary>The chunks of <paramref name="types"/> that come before the image data, with
    /// an intact CRC and at most <paramref name="maxLength"/> bytes of data, in file order.
    /// Other chunks are skipped unread; a chunk cut short ends the walk.</summary>
    public static IEnumerable<(string Type, byte[] Data)> BeforeImageData(Stream s, IReadOnlySet<string> types, int maxLength)
    {
        s.Position = SignatureBytes;
        var head = new byte[8];
        var crc = new byte[4];
        while (s.ReadAtLeast(head, 8, throwOnEndOfStream: false) == 8)
        {
            uint length = BinaryPrimitives.ReadUInt32BigEndian(head);
            string type = Encoding.ASCII.GetString(head, 4, 4);
            if (type is "IDAT" or "IEND" || length > int.MaxValue || s.Position + length + 4 > s.Length) yield break;
            if (!types.Contains(type) || length > maxLength) { s.Seek(length + 4, SeekOrigin.Current); continue; }
            var data = new byte[length];
            s.ReadExactly(data);
            s.ReadExactly(crc);
            // a damaged ancillary chunk is ignored (PNG 1.2, §12.13), not fatal
            if (BinaryPrimitives.ReadUInt32BigEndian(crc) == Crc32(head.AsSpan(4), data)) yield return (type, data);
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
