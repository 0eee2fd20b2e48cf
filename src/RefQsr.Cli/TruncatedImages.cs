namespace RefQsr.Cli;

/// <summary>Finds JPEG and BMP files that end before their image data does. ImageSharp 2.1
/// decodes such files without an error (the missing rows come out grey or black), and an
/// engine that upscales half an image as if it were whole has lost data silently. A PNG's
/// decoder already fails when image data is missing, but only once it decodes: its chunk
/// walk here lets a command that checks many files first (`eval`) name a cut one before
/// any work.</summary>
internal static class TruncatedImages
{
    /// <summary>What is missing, or null when the file is whole (or of another format, which
    /// the decoder judges). Reads from the stream's current position.</summary>
    public static string? Problem(Stream stream, string formatName) => formatName.ToUpperInvariant() switch
    {
        "JPEG" => Jpeg(new BufferedStream(stream, 1 << 16)),
        "BMP" => Bmp(stream),
        "PNG" => Png(stream),
        _ => null,
    };

    /// <summary>Walks the chunks (length, type, data, CRC) from after the signature to IEND,
    /// by their lengths alone (the decoder checks their contents).</summary>
    static string? Png(Stream s)
    {
        if (s.Length < 8) return "the PNG data stops inside its signature";
        foreach (var chunk in PngChunks.Walk(s))
        {
            if (chunk.Type == "IEND") return null;
            if (!chunk.Whole) return $"the PNG data stops inside its {chunk.Type} chunk";
        }
        return "the PNG data stops before its IEND chunk";
    }

    /// <summary>Walks the markers to the end-of-image one (<see cref="JpegSegments.Walk"/>).</summary>
    static string? Jpeg(Stream s)
    {
        long start = s.Position;
        if (s.ReadByte() != 0xFF || s.ReadByte() != 0xD8) return null;
        s.Position = start;
        return JpegSegments.Walk(s).Any(m => m.Marker == JpegSegments.EndOfImage) ? null : "the JPEG data stops before its end-of-image marker";
    }

    /// <summary>An uncompressed BMP (BI_RGB or bit fields) holds |height| rows of
    /// ⌈width·bpp/32⌉·4 bytes from its pixel data offset; compressed ones are left to the
    /// decoder.</summary>
    static string? Bmp(Stream s)
    {
        long start = s.Position;
        Span<byte> h = stackalloc byte[34];
        if (s.ReadAtLeast(h, h.Length, throwOnEndOfStream: false) < h.Length) return "the BMP header is cut short";
        if (h[0] != (byte)'B' || h[1] != (byte)'M') return null;
        long offset = BitConverter.ToUInt32(h[10..]);
        uint infoSize = BitConverter.ToUInt32(h[14..]);
        long width, height;
        int bpp;
        uint compression;
        if (infoSize == 12) { width = BitConverter.ToUInt16(h[18..]); height = BitConverter.ToUInt16(h[20..]); bpp = BitConverter.ToUInt16(h[24..]); compression = 0; }
        else if (infoSize >= 40) { width = BitConverter.ToInt32(h[18..]); height = Math.Abs((long)BitConverter.ToInt32(h[22..])); bpp = BitConverter.ToUInt16(h[28..]); compression = BitConverter.ToUInt32(h[30..]); }
        else return null;
        if (compression is not (0 or 3 or 6) || width <= 0 || bpp is <= 0 or > 64) return null;
        long rowBytes = (width * bpp + 31) / 32 * 4;
        long needed = offset + rowBytes * height;
        long have = s.Length - start;
        return have < needed ? $"the BMP's {width}x{height} pixels at {bpp} bits need {needed} bytes, the file has {have}" : null;
    }
}
