using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using SixLabors.ImageSharp;

namespace RefQsr.Cli;

/// <summary>Carries an input's embedded ICC colour profile to the PNG written. Without it a
/// wide-gamut photo (a phone's Display P3 JPEG) would be shown as sRGB, its colours washed
/// out. ImageSharp 2.1 reads a JPEG's profile but neither reads nor writes PNG's iCCP chunk,
/// so PNG's side is done here: the chunk is a name, a zero byte, compression method 0 and
/// the zlib-compressed profile (PNG 1.2, §4.2.2.4), placed before the image data.</summary>
internal static class IccProfiles
{
    /// <summary>Larger profiles are dropped (real ones are a few hundred KiB at most).</summary>
    public const int MaxProfileBytes = 16 << 20;

    /// <summary>The raw profile of a decoded JPEG, or the iCCP profile of a PNG file; null
    /// where there is none or it cannot be read (a broken profile is dropped, not fatal).</summary>
    public static byte[]? Read(Stream file, string formatName, Image decoded)
    {
        try
        {
            return formatName switch
            {
                "JPEG" => decoded.Metadata.IccProfile?.ToByteArray(),
                "PNG" => FromPng(file),
                _ => null,
            };
        }
        catch (Exception e) when (e is InvalidDataException or ArgumentException or InvalidOperationException or IndexOutOfRangeException)
        {
            return null;
        }
    }

    static byte[]? FromPng(Stream s)
    {
        s.Position = 8;
        Span<byte> head = stackalloc byte[8];
        while (s.ReadAtLeast(head, 8, throwOnEndOfStream: false) == 8)
        {
            uint length = BinaryPrimitives.ReadUInt32BigEndian(head);
            string type = Encoding.ASCII.GetString(head[4..]);
            if (type is "IDAT" or "IEND" || length > int.MaxValue || s.Position + length + 4 > s.Length) return null;
            if (type != "iCCP") { s.Seek(length + 4, SeekOrigin.Current); continue; }
            var data = new byte[length];
            s.ReadExactly(data);
            int nul = Array.IndexOf(data, (byte)0);
            if (nul < 1 || nul > 79 || nul + 2 > data.Length || data[nul + 1] != 0) return null;
            using var z = new ZLibStream(new MemoryStream(data, nul + 2, data.Length - nul - 2), CompressionMode.Decompress);
            // a crafted chunk can inflate to gigabytes: stop at a size no real profile reaches
            var profile = new MemoryStream();
            var buffer = new byte[64 * 1024];
            int read;
            while ((read = z.Read(buffer)) > 0)
            {
                if (profile.Length + read > MaxProfileBytes) return null;
                profile.Write(buffer, 0, read);
            }
            return profile.ToArray();
        }
        return null;
    }

    /// <summary>The PNG with an iCCP chunk holding <paramref name="profile"/> right after IHDR
    /// (the PNG written by ImageSharp has none of its own, nor an sRGB chunk).</summary>
    public static byte[] Embed(byte[] png, byte[] profile)
    {
        const int ihdrEnd = 8 + 4 + 4 + 13 + 4;   // signature, then IHDR's length, type, data, CRC
        var body = new MemoryStream();
        body.Write("ICC profile\0"u8);
        body.WriteByte(0);                       // compression method: deflate
        using (var z = new ZLibStream(body, CompressionLevel.Optimal, leaveOpen: true)) z.Write(profile);
        var chunk = new byte[12 + body.Length];
        BinaryPrimitives.WriteUInt32BigEndian(chunk, (uint)body.Length);
        "iCCP"u8.CopyTo(chunk.AsSpan(4));
        body.ToArray().CopyTo(chunk, 8);
        BinaryPrimitives.WriteUInt32BigEndian(chunk.AsSpan(chunk.Length - 4), Crc32(chunk.AsSpan(4, chunk.Length - 8)));
        var result = new byte[png.Length + chunk.Length];
        png.AsSpan(0, ihdrEnd).CopyTo(result);
        chunk.CopyTo(result, ihdrEnd);
        png.AsSpan(ihdrEnd).CopyTo(result.AsSpan(ihdrEnd + chunk.Length));
        return result;
    }

    static readonly uint[] CrcTable = Enumerable.Range(0, 256).Select(n =>
    {
        uint c = (uint)n;
        for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        return c;
    }).ToArray();

    /// <summary>PNG's CRC-32 (ISO 3309) over a chunk's type and data.</summary>
    static uint Crc32(ReadOnlySpan<byte> bytes)
    {
        uint c = 0xFFFFFFFFu;
        foreach (byte b in bytes) c = CrcTable[(c ^ b) & 0xFF] ^ (c >> 8);
        return c ^ 0xFFFFFFFFu;
    }
}
