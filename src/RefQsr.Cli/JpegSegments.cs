namespace RefQsr.Cli;

/// <summary>A JPEG's markers at the byte level (ITU T.81, B.1): marker segments (0xFF, code,
/// a two-byte length that counts itself, data), standalone markers (RSTn, TEM, EOI), and after
/// each scan header its entropy-coded data, in which an 0xFF byte is followed by 0x00 (stuffing)
/// or a restart marker, so the first other marker after it ends the scan.</summary>
internal static class JpegSegments
{
    public const int StartOfScan = 0xDA, EndOfImage = 0xD9, App0 = 0xE0;

    /// <summary>A marker as <see cref="Walk"/> finds it: its code, where its segment's data starts
    /// and how long the data is (0 for a standalone marker).</summary>
    public readonly record struct Segment(int Marker, long DataStart, int Length);

    /// <summary>The markers after the start-of-image one, in file order, up to and including
    /// <see cref="EndOfImage"/>. Ends early, without it, where the file is cut short (a segment's
    /// data or a scan runs past the end), and yields nothing where the stream does not start
    /// with a JPEG's start-of-image marker. Each marker is read where the segment before it ends,
    /// so a caller may read a segment's data before taking the next. Needs a seekable stream.</summary>
    public static IEnumerable<Segment> Walk(Stream s)
    {
        if (s.ReadByte() != 0xFF || s.ReadByte() != 0xD8) yield break;
        int marker = NextMarker(s);
        while (marker >= 0)
        {
            if (marker == EndOfImage || marker is (>= 0xD0 and <= 0xD7) or 0x01)
            {
                yield return new Segment(marker, s.Position, 0);
                if (marker == EndOfImage) yield break;
                marker = NextMarker(s);
                continue;
            }
            int hi = s.ReadByte(), lo = s.ReadByte();
            if (lo < 0) yield break;
            int length = (hi << 8) | lo;
            long start = s.Position;
            if (length < 2 || start + length - 2 > s.Length) yield break;
            yield return new Segment(marker, start, length - 2);
            s.Position = start + length - 2;
            marker = marker == StartOfScan ? EndOfScan(s) : NextMarker(s);
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
}
