using System.Buffers.Binary;

namespace RefQsr.Cli;

/// <summary>A PNG's pHYs: pixels per unit along x and y, the unit a metre, or unknown where only
/// the aspect ratio is meant (PNG 1.2, §4.2.4.2). Carried unchanged from a PNG input to the
/// PNGs written from it, as ImageMagick's resize keeps a density: the x4 output then prints at
/// four times the input's size. ImageSharp 2.1 writes 96 DPI into every PNG whatever the input
/// said, so it is told not to write its own, and an input without pHYs gives an output without.</summary>
public sealed record PixelDensity(uint X, uint Y, bool PerMetre)
{
    static readonly HashSet<string> PngTypes = ["pHYs"];

    /// <summary>A PNG file's pHYs (null for other formats, or where it is missing, damaged or
    /// has a zero or unknown-unit value).</summary>
    public static PixelDensity? Read(Stream file, string formatName)
    {
        if (formatName != "PNG") return null;
        try
        {
            PixelDensity? density = null;
            foreach (var (_, data) in PngChunks.BeforeImageData(file, PngTypes, 9))
            {
                if (data.Length != 9 || data[8] > 1) continue;
                uint x = BinaryPrimitives.ReadUInt32BigEndian(data), y = BinaryPrimitives.ReadUInt32BigEndian(data.AsSpan(4));
                if (x != 0 && y != 0) density = new PixelDensity(x, y, data[8] == 1);
            }
            return density;
        }
        catch (Exception e) when (e is InvalidDataException or ArgumentException or InvalidOperationException or IOException)
        {
            // crafted bytes a check missed: the pixels still read, without a density
            return null;
        }
    }

    /// <summary>The pHYs chunk's 9 bytes.</summary>
    public byte[] ChunkData()
    {
        var data = new byte[9];
        BinaryPrimitives.WriteUInt32BigEndian(data, X);
        BinaryPrimitives.WriteUInt32BigEndian(data.AsSpan(4), Y);
        data[8] = PerMetre ? (byte)1 : (byte)0;
        return data;
    }
}
