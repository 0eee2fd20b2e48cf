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

    /// <summary>Walks the marker segments to the end-of-image marker; inside a scan's
    /// entropy-coded data an 0xFF byte is followed by 0x00 (stuffing) or a restart marker,
    /// so the first other marker after it ends the scan.</summary>
    static string? Jpeg(Stream s)
    {
        const string noEnd = "the JPEG data stops before its end-of-image marker";
        if (s.ReadByte() != 0xFF || s.ReadByte() != 0xD8) return null;
        int marker = NextMarker(s);
        while (true)
        {
            if (marker < 0) return noEnd;
            if (marker == 0xD9) return null;
            if (marker is (>= 0xD0 and <= 0xD7) or 0x01) { marker = NextMarker(s); continue; }
            int hi = s.ReadByte(), lo = s.ReadByte();
            if (lo < 0) return noEnd;
            int length = (hi << 8) | lo;
            if (length < 2 || !Skip(s, length - 2)) return noEnd;
            marker = marker == 0xDA ? EndOfScan(s) : NextMarker(s);
        }
    }

    /// <summary>The next marker code after 0xFF (and any fill 0xFF bytes); -1 at the end.</summary>
    static int NextMarker(Stream s)
    {
        int b = s.ReadByte();
        if (b != 0xFF) return -1;
        while ((b = s.ReadByte()) == 0xFF) { }
        return b;
    }

    /// <summary>The marker that ends the entropy-coded data of a scan; -1 at the end.</summary>
    static int EndOfScan(Stream s)
    {
        int b;
        while ((b = s.ReadByte()) >= 0)
        {
            if (b != 0xFF) continue;
            while ((b = s.ReadByte()) == 0xFF) { }
            if (b < 0) return -1;
            if (b != 0x00 && b is not (>= 0xD0 and <= 0xD7)) return b;
        }
        return -1;
    }

    static bool Skip(Stream s, long count)
    {
        if (s.CanSeek)
        {
            if (s.Position + count > s.Length) return false;
            s.Seek(count, SeekOrigin.Current);
            return true;
        }
        for (long i = 0; i < count; i++) if (s.ReadByte() < 0) return false;
        return true;
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
