using System.Buffers.Binary;
using SixLabors.ImageSharp.Metadata.Profiles.Exif;

namespace RefQsr.Cli;

/// <summary>A PNG's pHYs: pixels per unit along x and y, the unit a metre, or unknown where only
/// the aspect ratio is meant (PNG 1.2, §4.2.4.2); a JPEG's JFIF density, or its EXIF resolution
/// where JFIF states none (camera files), is read into the same form. Carried unchanged from
/// the input to the PNGs written from it, as ImageMagick's resize keeps a density: the x4
/// output then prints at four times the input's size (x and y swapped where the EXIF
/// orientation turns the picture a quarter). ImageSharp 2.1
/// writes 96 DPI into every PNG whatever the input said, so it is told not to write its own,
/// and an input without a density gives an output without.</summary>
public sealed record PixelDensity(uint X, uint Y, bool PerMetre)
{
    static readonly HashSet<string> PngTypes = ["pHYs"];

    /// <summary>A PNG file's pHYs, or a JPEG's JFIF density or else its EXIF resolution
    /// (<paramref name="exif"/>: the decoded image's profile), as PIL reads a JPEG's dpi. Null for
    /// BMP, or where it is missing, damaged or has a zero or unknown-unit value.</summary>
    public static PixelDensity? Read(Stream file, string formatName, ExifProfile? exif = null)
    {
        try
        {
            return formatName switch
            {
                "PNG" => FromPng(file),
                "JPEG" => FromJfif(file) ?? FromExif(exif),
                _ => null,
            };
        }
        catch (Exception e) when (e is InvalidDataException or ArgumentException or InvalidOperationException or IOException)
        {
            // crafted bytes a check missed: the pixels still read, without a density
            return null;
        }
    }

    static PixelDensity? FromPng(Stream file)
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

    /// <summary>The JFIF APP0 segment's density (JFIF 1.02: units 0 = aspect ratio only, 1 = dots
    /// per inch, 2 = per centimetre), per metre as pHYs states it (300 DPI: 11811), found among
    /// the segments before the first scan. A unitless 1:1, what most encoders write when they
    /// know nothing, is no density.</summary>
    static PixelDensity? FromJfif(Stream file)
    {
        file.Position = 0;
        var app0 = new byte[14];
        foreach (var segment in JpegSegments.Walk(file))
        {
            if (segment.Marker == JpegSegments.StartOfScan) return null;   // no APP0 before the first scan
            if (segment.Marker != JpegSegments.App0 || segment.Length < app0.Length) continue;
            file.Position = segment.DataStart;
            file.ReadExactly(app0);
            if (!app0.AsSpan(0, 5).SequenceEqual("JFIF\0"u8)) continue;
            int units = app0[7], x = BinaryPrimitives.ReadUInt16BigEndian(app0.AsSpan(8)), y = BinaryPrimitives.ReadUInt16BigEndian(app0.AsSpan(10));
            if (x == 0 || y == 0 || units > 2 || (units == 0 && x == y)) return null;
            double perMetre = units switch { 1 => 1 / 0.0254, 2 => 100, _ => 1 };
            return new PixelDensity((uint)Math.Round(x * perMetre), (uint)Math.Round(y * perMetre), units != 0);
        }
        return null;
    }

    /// <summary>EXIF's XResolution and YResolution in its ResolutionUnit (2, inches, where the
    /// tag is missing, as EXIF 2.3 defaults it; 3, centimetres; 1, none: an aspect ratio).</summary>
    static PixelDensity? FromExif(ExifProfile? exif)
    {
        if (exif?.GetValue(ExifTag.XResolution)?.Value is not { } xr || exif.GetValue(ExifTag.YResolution)?.Value is not { } yr) return null;
        ushort unit = exif.GetValue(ExifTag.ResolutionUnit)?.Value ?? 2;
        double perMetre = unit switch { 2 => 1 / 0.0254, 3 => 100, 1 => 1, _ => 0 };
        double x = Math.Round(xr.ToDouble() * perMetre), y = Math.Round(yr.ToDouble() * perMetre);
        if (perMetre == 0 || !(x >= 1 && y >= 1 && x <= uint.MaxValue && y <= uint.MaxValue) || (unit == 1 && x == y)) return null;
        return new PixelDensity((uint)x, (uint)y, unit != 1);
    }

    /// <summary>The density of the picture turned by a quarter (EXIF orientations 5–8): x and y swap.</summary>
    public PixelDensity Transposed() => new(Y, X, PerMetre);

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
