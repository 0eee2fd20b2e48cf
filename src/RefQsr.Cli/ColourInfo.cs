using System.Buffers.Binary;
using System.IO.Compression;
using SixLabors.ImageSharp;

namespace RefQsr.Cli;

/// <summary>What an input says about the colours its numbers mean, carried to the PNG written
/// so that a viewer shows the output as it shows the input: the ICC profile (JPEG's APP2,
/// PNG's iCCP), and PNG's sRGB rendering intent, gAMA and cHRM. Without the profile a
/// wide-gamut photo (a phone's Display P3 JPEG) would be shown as sRGB, its colours washed
/// out; without gAMA a PNG made for gamma 1.0 would be shown far too dark. ImageSharp 2.1
/// reads a JPEG's profile but writes none of these for a new PNG, so PNG's side is done here
/// (PNG 1.2, §4.2.2).</summary>
/// <param name="SrgbIntent">sRGB's rendering intent, 0 to 3.</param>
/// <param name="Gamma">gAMA: the encoding gamma times 100000 (45455 for 1/2.2).</param>
/// <param name="Chromaticities">cHRM's 32 bytes: white point and primaries.</param>
public sealed record ColourInfo(byte[]? IccProfile = null, byte? SrgbIntent = null, uint? Gamma = null, byte[]? Chromaticities = null)
{
    /// <summary>Larger profiles are dropped (real ones are a few hundred KiB at most).</summary>
    public const int MaxProfileBytes = 16 << 20;

    public static readonly ColourInfo None = new();

    static readonly HashSet<string> PngTypes = ["iCCP", "sRGB", "gAMA", "cHRM"];

    /// <summary>The colour information of a decoded JPEG, or of a PNG file's chunks; a broken
    /// chunk or profile is dropped, not fatal.</summary>
    public static ColourInfo Read(Stream file, string formatName, Image decoded)
    {
        try
        {
            return formatName switch
            {
                "JPEG" => new ColourInfo(IccProfile: decoded.Metadata.IccProfile?.ToByteArray()),
                "PNG" => FromPng(file),
                _ => None,
            };
        }
        catch (Exception e) when (e is InvalidDataException or ArgumentException or InvalidOperationException or IndexOutOfRangeException)
        {
            // crafted bytes a check below missed: the pixels still read, without their colour notes
            return None;
        }
    }

    static ColourInfo FromPng(Stream s)
    {
        var colour = None;
        foreach (var (type, data) in PngChunks.BeforeImageData(s, PngTypes, MaxProfileBytes))
            colour = type switch
            {
                "iCCP" => colour with { IccProfile = Inflated(data) },
                "sRGB" when data.Length == 1 && data[0] <= 3 => colour with { SrgbIntent = data[0] },
                "gAMA" when data.Length == 4 && BinaryPrimitives.ReadUInt32BigEndian(data) != 0 => colour with { Gamma = BinaryPrimitives.ReadUInt32BigEndian(data) },
                "cHRM" when data.Length == 32 => colour with { Chromaticities = data },
                _ => colour,
            };
        return colour;
    }

    /// <summary>iCCP's profile: a name of 1 to 79 bytes, a zero byte, compression method 0 and
    /// the zlib stream; null where that is not so or it inflates past <see cref="MaxProfileBytes"/>.</summary>
    static byte[]? Inflated(byte[] data)
    {
        int nul = Array.IndexOf(data, (byte)0);
        if (nul < 1 || nul > 79 || nul + 2 > data.Length || data[nul + 1] != 0) return null;
        try
        {
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
        catch (InvalidDataException) { return null; }
    }

    /// <summary>This information as PNG chunks, to go after IHDR (ImageSharp writes none of
    /// its own). A profile wins over sRGB: PNG 1.2 says a file should not hold both.</summary>
    public IEnumerable<(string Type, byte[] Data)> ToPngChunks()
    {
        if (Chromaticities is not null) yield return ("cHRM", Chromaticities);
        if (Gamma is { } gamma)
        {
            var g = new byte[4];
            BinaryPrimitives.WriteUInt32BigEndian(g, gamma);
            yield return ("gAMA", g);
        }
        if (IccProfile is not null) yield return ("iCCP", Deflated(IccProfile));
        else if (SrgbIntent is { } intent) yield return ("sRGB", [intent]);
    }

    static byte[] Deflated(byte[] profile)
    {
        var body = new MemoryStream();
        body.Write("ICC profile\0"u8);
        body.WriteByte(0);                       // compression method: deflate
        using (var z = new ZLibStream(body, CompressionLevel.Optimal, leaveOpen: true)) z.Write(profile);
        return body.ToArray();
    }
}
