using RefQsr.Cli;
using RefQsr.Engine.Imaging;
using RefQsr.Engine.Weights;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Metadata;
using SixLabors.ImageSharp.Metadata.Profiles.Exif;
using SixLabors.ImageSharp.Formats.Bmp;
using SixLabors.ImageSharp.Formats.Jpeg;
using SixLabors.ImageSharp.PixelFormats;

namespace RefQsr.Engine.Tests.Cli;

/// <summary>Image files that are cut short or crafted (found by mutating the project's own
/// encoded scenes at random): a one-line error and exit code 1, never half an image
/// upscaled as if whole, never an "internal error".</summary>
public sealed class ImageInputTests : CliTestBase
{
    string Encoded(string name, Action<Image<Rgb24>, Stream> save)
    {
        var scene = SyntheticScene.Create(64, 48);
        using var img = Image.LoadPixelData<Rgb24>(scene.Pixels, scene.Width, scene.Height);
        string p = Path.Combine(Dir, name);
        using (var f = File.Create(p)) save(img, f);
        return p;
    }

    string Jpeg() => Encoded("in.jpg", (i, s) => i.SaveAsJpeg(s, new JpegEncoder { Quality = 90 }));
    string Bmp() => Encoded("in.bmp", (i, s) => i.SaveAsBmp(s, new BmpEncoder { BitsPerPixel = BmpBitsPerPixel.Pixel24 }));

    static void Cut(string path, int keep) => File.WriteAllBytes(path, File.ReadAllBytes(path)[..keep]);

    string Upscale(string input, int expectedCode)
    {
        string model = Path.Combine(Dir, "m.safetensors");
        File.WriteAllBytes(model, TestModels.Bytes(TestModels.Config(QuantizerKind.Ddtb, 4, blocks: 1)));
        var (code, _, err) = Run("upscale", input, Path.Combine(Dir, "out.png"), "--model", model);
        Assert.True(code == expectedCode, err);
        if (code != 0)
        {
            Assert.StartsWith("refqsr: ", err);
            Assert.Single(err.Trim().Split('\n'));
            Assert.DoesNotContain("internal error", err);
        }
        return err;
    }

    [Fact]
    public void WholeJpegAndBmpLoadWithTheirSize()
    {
        foreach (var p in new[] { Jpeg(), Bmp() })
        {
            var img = ImageFiles.Load(p, long.MaxValue);
            Assert.Equal((64, 48), (img.Width, img.Height));
            Upscale(p, 0);
        }
    }

    [Fact]
    public void TruncatedJpegIsRefused()
    {
        string p = Jpeg();
        Cut(p, (int)new FileInfo(p).Length * 2 / 3);
        Assert.Contains("image is truncated (the JPEG data stops before its end-of-image marker)", Upscale(p, 1));
    }

    [Fact]
    public void TruncatedPngIsRefusedNamingWhereItStops()
    {
        string p = Path.Combine(Dir, "cut.png");
        ImageFiles.SavePng(SyntheticScene.Create(64, 48), p);
        var whole = File.ReadAllBytes(p);
        // the last chunk is IEND: 12 bytes, no data
        Assert.Equal("IEND"u8.ToArray(), whole[^8..^4]);
        File.WriteAllBytes(p, whole[..^12]);
        Assert.Contains("image is truncated (the PNG data stops before its IEND chunk)", Upscale(p, 1));
        File.WriteAllBytes(p, whole[..(whole.Length / 2)]);
        Assert.Contains("image is truncated (the PNG data stops inside its IDAT chunk)", Upscale(p, 1));
    }

    [Fact]
    public void TruncatedBmpIsRefused()
    {
        string p = Bmp();
        Cut(p, 54 + 64 * 3 * 20);
        Assert.Contains($"image is truncated (the BMP's 64x48 pixels at 24 bits need {54 + 64 * 3 * 48} bytes, the file has {54 + 64 * 3 * 20})", Upscale(p, 1));
    }

    [Fact]
    public void BmpHeaderTheDecoderThrowsOnIsAReadError()
    {
        // a width of 2^31 − 1: ImageSharp 2.1 throws InvalidOperationException, not a format error
        string p = Bmp();
        var b = File.ReadAllBytes(p);
        BitConverter.TryWriteBytes(b.AsSpan(18), int.MaxValue);
        File.WriteAllBytes(p, b);
        Assert.Contains("not a readable image", Upscale(p, 1));
    }

    [Theory]
    [InlineData("FFD8 FFE0 0004 0000 FFDA 0004 0000 12 34 FF00 56 FFD0 78 FFFF FFD9", null)]  // stuffing, restart, fill bytes
    [InlineData("FFD8 FFDA 0002 12 34 FFD9 77 77", null)]                                    // bytes after the end marker
    [InlineData("FFD8 FFE0 0004 0000 FFDA 0004 0000 12 34 FF00 56", "end-of-image")]         // scan data cut
    [InlineData("FFD8 FFE0 0010 0000", "end-of-image")]                                      // segment longer than the file
    [InlineData("FFD8 FFDA 0002 12 FFD0", "end-of-image")]                                   // ends on a restart marker
    public void JpegMarkerWalk(string hex, string? problem)
    {
        var bytes = Convert.FromHexString(hex.Replace(" ", ""));
        string? found = TruncatedImages.Problem(new MemoryStream(bytes), "JPEG");
        if (problem is null) Assert.Null(found);
        else Assert.Contains(problem, found);
    }

    [Fact]
    public void ExifOrientationIsApplied()
    {
        // orientation 6: the stored 64x48 picture is shown turned 90° clockwise, 48x64; a
        // white block at the stored top left appears at the top right
        var scene = SyntheticScene.Create(64, 48);
        for (int y = 0; y < 12; y++) for (int x = 0; x < 12; x++) for (int ch = 0; ch < 3; ch++) scene.Pixels[(y * 64 + x) * 3 + ch] = 255;
        using var img = Image.LoadPixelData<Rgb24>(scene.Pixels, 64, 48);
        img.Metadata.ExifProfile = new SixLabors.ImageSharp.Metadata.Profiles.Exif.ExifProfile();
        img.Metadata.ExifProfile.SetValue(SixLabors.ImageSharp.Metadata.Profiles.Exif.ExifTag.Orientation, (ushort)6);
        string p = Path.Combine(Dir, "turned.jpg");
        img.SaveAsJpeg(p, new JpegEncoder { Quality = 95 });
        var loaded = ImageFiles.Load(p, long.MaxValue);
        Assert.Equal((48, 64), (loaded.Width, loaded.Height));
        Assert.True(loaded.Pixels[(2 * 48 + 45) * 3] > 200, "the white block is not at the top right");
        Assert.True(loaded.Pixels[(2 * 48 + 2) * 3] < 200 || loaded.Pixels[(2 * 48 + 2) * 3 + 1] < 200, "the top left is still white");
    }

    /// <summary>A minimal ICC profile: a 128-byte header ('acsp', display class, RGB to XYZ)
    /// and an empty tag table, with some bytes of its own in the reserved area to recognise.</summary>
    static byte[] Profile()
    {
        var p = new byte[132];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(p, 132);
        p[8] = 2; p[9] = 0x10;
        "mntrRGB XYZ "u8.CopyTo(p.AsSpan(12));
        "acsp"u8.CopyTo(p.AsSpan(36));
        for (int i = 100; i < 128; i++) p[i] = (byte)(i * 7);
        return p;
    }

    [Fact]
    public void IccProfileOfAJpegIsCarriedToThePng()
    {
        var scene = SyntheticScene.Create(40, 30);
        using var img = Image.LoadPixelData<Rgb24>(scene.Pixels, 40, 30);
        img.Metadata.IccProfile = new SixLabors.ImageSharp.Metadata.Profiles.Icc.IccProfile(Profile());
        string p = Path.Combine(Dir, "p3.jpg"), o = Path.Combine(Dir, "o.png"), o2 = Path.Combine(Dir, "o2.png");
        img.SaveAsJpeg(p);
        Assert.Equal(Profile(), ImageFiles.Read(p, long.MaxValue).IccProfile);
        Upscale(p, 0);
        File.Copy(Path.Combine(Dir, "out.png"), o);
        // the PNG written holds it (read back by the PNG reader here), and passes it on again
        Assert.Equal(Profile(), ImageFiles.Read(o, long.MaxValue).IccProfile);
        Assert.Equal((160, 120), (ImageFiles.Load(o, long.MaxValue).Width, ImageFiles.Load(o, long.MaxValue).Height));
        Upscale(o, 0);
        Assert.Equal(Profile(), ImageFiles.Read(Path.Combine(Dir, "out.png"), long.MaxValue).IccProfile);
        // and a file with none gets none
        Assert.Null(ImageFiles.Read(Jpeg(), long.MaxValue).IccProfile);
    }

    /// <summary>The types of a PNG file's chunks in order (a walk of its own, not the CLI's).</summary>
    static List<string> ChunkTypes(string path)
    {
        var bytes = File.ReadAllBytes(path);
        var types = new List<string>();
        for (int at = 8; at + 8 <= bytes.Length;)
        {
            types.Add(System.Text.Encoding.ASCII.GetString(bytes, at + 4, 4));
            at += 12 + (int)System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(at));
        }
        return types;
    }

    [Fact]
    public void PngGammaIsCarriedToThePng()
    {
        // an input made for gamma 1.0 (linear light), written and read back by ImageSharp itself
        var scene = SyntheticScene.Create(40, 30);
        using (var img = Image.LoadPixelData<Rgb24>(scene.Pixels, 40, 30))
            img.SaveAsPng(Path.Combine(Dir, "linear.png"), new SixLabors.ImageSharp.Formats.Png.PngEncoder { Gamma = 1.0f });
        Assert.Equal(100000u, ImageFiles.Read(Path.Combine(Dir, "linear.png"), long.MaxValue).Colour.Gamma);
        Upscale(Path.Combine(Dir, "linear.png"), 0);
        string output = Path.Combine(Dir, "out.png");
        Assert.Equal(1.0f, Image.Identify(output).Metadata.GetPngMetadata().Gamma);
        Assert.Single(ChunkTypes(output), "gAMA");
        // and an input without one gets none
        Upscale(Jpeg(), 0);
        Assert.DoesNotContain("gAMA", ChunkTypes(output));
    }

    [Fact]
    public void PngSrgbAndChromaticitiesAreCarriedBeforeTheImageData()
    {
        var chrm = Enumerable.Range(0, 32).Select(i => (byte)(i * 5 + 1)).ToArray();
        string p = Path.Combine(Dir, "srgb.png");
        ImageFiles.SavePng(SyntheticScene.Create(24, 16), p, colour: new ColourInfo(SrgbIntent: 1, Gamma: 45455, Chromaticities: chrm));
        var types = ChunkTypes(p);
        Assert.Equal(["IHDR", "cHRM", "gAMA", "sRGB"], types.Take(4));
        Assert.Equal("IEND", types[^1]);
        Upscale(p, 0);
        var carried = ImageFiles.Read(Path.Combine(Dir, "out.png"), long.MaxValue).Colour;
        Assert.Equal(((byte?)1, (uint?)45455u), (carried.SrgbIntent, carried.Gamma));
        Assert.Equal(chrm, carried.Chromaticities);
        Assert.Null(carried.IccProfile);
        Assert.Equal(0.45455f, Image.Identify(Path.Combine(Dir, "out.png")).Metadata.GetPngMetadata().Gamma);
    }

    [Fact]
    public void PngDensityIsCarriedAndNoneIsMadeUp()
    {
        // 300 DPI (11811 pixels per metre) on x, 150 on y, read back by ImageSharp's own decoder
        string p = Path.Combine(Dir, "dense.png");
        ImageFiles.SavePng(SyntheticScene.Create(24, 16), p, density: new PixelDensity(11811, 5906, PerMetre: true));
        Assert.Equal(new PixelDensity(11811, 5906, true), ImageFiles.Read(p, long.MaxValue).Density);
        Upscale(p, 0);
        string output = Path.Combine(Dir, "out.png");
        var meta = Image.Identify(output).Metadata;
        Assert.Equal(PixelResolutionUnit.PixelsPerMeter, meta.ResolutionUnits);
        Assert.Equal((11811.0, 5906.0), (meta.HorizontalResolution, meta.VerticalResolution));
        Assert.Single(ChunkTypes(output), "pHYs");
        // an aspect ratio without a unit is carried as such
        ImageFiles.SavePng(SyntheticScene.Create(24, 16), p, density: new PixelDensity(2, 1, PerMetre: false));
        Upscale(p, 0);
        Assert.Equal(new PixelDensity(2, 1, false), ImageFiles.Read(output, long.MaxValue).Density);
        // an input without one gets none, not ImageSharp's 96 DPI
        ImageFiles.SavePng(SyntheticScene.Create(24, 16), p);
        Assert.DoesNotContain("pHYs", ChunkTypes(p));
        Upscale(p, 0);
        Assert.DoesNotContain("pHYs", ChunkTypes(output));
        Assert.Null(ImageFiles.Read(output, long.MaxValue).Density);
    }

    [Theory]
    [InlineData(300, 150, PixelResolutionUnit.PixelsPerInch, 11811u, 5906u, true)]
    [InlineData(40, 20, PixelResolutionUnit.PixelsPerCentimeter, 4000u, 2000u, true)]
    [InlineData(3, 2, PixelResolutionUnit.AspectRatio, 3u, 2u, false)]
    public void JpegDensityIsCarriedAsPerMetre(double x, double y, PixelResolutionUnit unit, uint ppmX, uint ppmY, bool perMetre)
    {
        // written by ImageSharp's JPEG encoder into its JFIF segment
        string p = Encoded("dense.jpg", (img, s) =>
        {
            img.Metadata.ResolutionUnits = unit;
            img.Metadata.HorizontalResolution = x;
            img.Metadata.VerticalResolution = y;
            img.SaveAsJpeg(s, new JpegEncoder { Quality = 90 });
        });
        Assert.Equal(new PixelDensity(ppmX, ppmY, perMetre), ImageFiles.Read(p, long.MaxValue).Density);
        Upscale(p, 0);
        Assert.Equal(new PixelDensity(ppmX, ppmY, perMetre), ImageFiles.Read(Path.Combine(Dir, "out.png"), long.MaxValue).Density);
    }

    [Fact]
    public void JpegWithoutJfifOrWithAUnitlessSquareHasNoDensity()
    {
        string square = Encoded("square.jpg", (img, s) =>
        {
            img.Metadata.ResolutionUnits = PixelResolutionUnit.AspectRatio;
            img.Metadata.HorizontalResolution = img.Metadata.VerticalResolution = 1;
            img.SaveAsJpeg(s, new JpegEncoder { Quality = 90 });
        });
        Assert.Null(ImageFiles.Read(square, long.MaxValue).Density);
        // the APP0 segment renamed to APP1 ("JFIF" is then no JFIF segment): still reads, no density
        var bytes = File.ReadAllBytes(Jpeg());
        int app0 = 2;
        Assert.Equal((0xFF, 0xE0), (bytes[app0], bytes[app0 + 1]));
        bytes[app0 + 1] = 0xE1;
        File.WriteAllBytes(Path.Combine(Dir, "nojfif.jpg"), bytes);
        var read = ImageFiles.Read(Path.Combine(Dir, "nojfif.jpg"), long.MaxValue);
        Assert.Null(read.Density);
        Assert.Equal((64, 48), (read.Rgb.Width, read.Rgb.Height));
    }

    [Fact]
    public void SixteenBitPngIsSaidToBeReadAtEightBits()
    {
        // 16-bit RGB: each sample the 8-bit one times 257 plus 100, which rounds back to it
        var scene = SyntheticScene.Create(24, 16);
        using (var img = new Image<Rgb48>(24, 16))
        {
            for (int y = 0; y < 16; y++)
                for (int x = 0; x < 24; x++)
                {
                    int i = (y * 24 + x) * 3;
                    img[x, y] = new Rgb48((ushort)Math.Min(65535, scene.Pixels[i] * 257 + 100), (ushort)Math.Min(65535, scene.Pixels[i + 1] * 257 + 100),
                        (ushort)Math.Min(65535, scene.Pixels[i + 2] * 257 + 100));
                }
            img.SaveAsPng(Path.Combine(Dir, "deep.png"), new SixLabors.ImageSharp.Formats.Png.PngEncoder { BitDepth = SixLabors.ImageSharp.Formats.Png.PngBitDepth.Bit16 });
        }
        var read = ImageFiles.Read(Path.Combine(Dir, "deep.png"), long.MaxValue);
        Assert.Equal(16, read.SourceBits);
        Assert.Equal(scene.Pixels, read.Rgb.Pixels);
        string model = Path.Combine(Dir, "m.safetensors");
        File.WriteAllBytes(model, TestModels.Bytes(TestModels.Config(QuantizerKind.Ddtb, 4, blocks: 1)));
        var (code, stdout, err) = Run("upscale", Path.Combine(Dir, "deep.png"), Path.Combine(Dir, "out.png"), "--model", model);
        Assert.True(code == 0, err);
        Assert.Contains("the input's 16 bits per channel were read and written as 8", stdout);
        (code, stdout, err) = Run("upscale", Path.Combine(Dir, "deep.png"), Path.Combine(Dir, "out.png"), "--model", model, "--json");
        Assert.True(code == 0, err);
        Assert.Contains("\"input_bits_per_channel\": 16", stdout);
        // an 8-bit input: 8, and no such words
        ImageFiles.SavePng(scene, Path.Combine(Dir, "flat.png"));
        (code, stdout, err) = Run("upscale", Path.Combine(Dir, "flat.png"), Path.Combine(Dir, "out.png"), "--model", model, "--json");
        Assert.Contains("\"input_bits_per_channel\": 8", stdout);
        (code, stdout, err) = Run("upscale", Path.Combine(Dir, "flat.png"), Path.Combine(Dir, "out.png"), "--model", model);
        Assert.DoesNotContain("bits per channel", stdout);
    }

    /// <summary>A JPEG with an EXIF profile (<paramref name="setExif"/>) and ImageSharp's JFIF
    /// segment cut out, as camera files come: density only in EXIF.</summary>
    string ExifOnlyJpeg(string name, Action<ExifProfile> setExif, PixelResolutionUnit unit, double x, double y)
    {
        string p = Encoded(name, (img, s) =>
        {
            img.Metadata.ExifProfile = new ExifProfile();
            setExif(img.Metadata.ExifProfile);
            // the encoder writes the metadata's resolution into EXIF's tags where they exist
            (img.Metadata.ResolutionUnits, img.Metadata.HorizontalResolution, img.Metadata.VerticalResolution) = (unit, x, y);
            img.SaveAsJpeg(s, new JpegEncoder { Quality = 90 });
        });
        var bytes = File.ReadAllBytes(p);
        Assert.Equal((0xFF, 0xE0), (bytes[2], bytes[3]));
        int app0 = 2 + (bytes[4] << 8 | bytes[5]);
        File.WriteAllBytes(p, [.. bytes[..2], .. bytes[(2 + app0)..]]);
        return p;
    }

    [Fact]
    public void ExifResolutionIsTheDensityOfAJpegWithoutJfif()
    {
        string p = ExifOnlyJpeg("camera.jpg", exif =>
        {
            exif.SetValue(ExifTag.XResolution, new Rational(300));
            exif.SetValue(ExifTag.YResolution, new Rational(150));
            exif.SetValue(ExifTag.ResolutionUnit, (ushort)2);
        }, PixelResolutionUnit.PixelsPerInch, 300, 150);
        Assert.Null(FindJfif(p));   // no JFIF segment left
        Assert.Equal(new PixelDensity(11811, 5906, true), ImageFiles.Read(p, long.MaxValue).Density);
        Upscale(p, 0);
        Assert.Equal(new PixelDensity(11811, 5906, true), ImageFiles.Read(Path.Combine(Dir, "out.png"), long.MaxValue).Density);
        // per centimetre
        p = ExifOnlyJpeg("camera-cm.jpg", exif =>
        {
            exif.SetValue(ExifTag.XResolution, new Rational(40));
            exif.SetValue(ExifTag.YResolution, new Rational(40));
            exif.SetValue(ExifTag.ResolutionUnit, (ushort)3);
        }, PixelResolutionUnit.PixelsPerCentimeter, 40, 40);
        Assert.Equal(new PixelDensity(4000, 4000, true), ImageFiles.Read(p, long.MaxValue).Density);
        // an EXIF without resolution tags: none
        p = ExifOnlyJpeg("camera-none.jpg", exif => exif.SetValue(ExifTag.Software, "test"), PixelResolutionUnit.PixelsPerInch, 72, 72);
        Assert.Null(ImageFiles.Read(p, long.MaxValue).Density);
    }

    static int? FindJfif(string path)
    {
        var bytes = File.ReadAllBytes(path);
        for (int i = 0; i + 4 < bytes.Length; i++)
            if (bytes.AsSpan(i, 5).SequenceEqual("JFIF\0"u8)) return i;
        return null;
    }

    [Fact]
    public void DensityTurnsWithTheExifOrientation()
    {
        // orientation 6 (a quarter turn): the picture shown is 48x64, its x density the stored y
        string p = Encoded("turned.jpg", (img, s) =>
        {
            img.Metadata.ExifProfile = new ExifProfile();
            img.Metadata.ExifProfile.SetValue(ExifTag.Orientation, (ushort)6);
            (img.Metadata.ResolutionUnits, img.Metadata.HorizontalResolution, img.Metadata.VerticalResolution) = (PixelResolutionUnit.PixelsPerInch, 300, 150);
            img.SaveAsJpeg(s, new JpegEncoder { Quality = 90 });
        });
        var read = ImageFiles.Read(p, long.MaxValue);
        Assert.Equal((48, 64), (read.Rgb.Width, read.Rgb.Height));
        Assert.Equal(new PixelDensity(5906, 11811, true), read.Density);
        // orientation 3 (a half turn) keeps x and y
        p = Encoded("upside-down.jpg", (img, s) =>
        {
            img.Metadata.ExifProfile = new ExifProfile();
            img.Metadata.ExifProfile.SetValue(ExifTag.Orientation, (ushort)3);
            (img.Metadata.ResolutionUnits, img.Metadata.HorizontalResolution, img.Metadata.VerticalResolution) = (PixelResolutionUnit.PixelsPerInch, 300, 150);
            img.SaveAsJpeg(s, new JpegEncoder { Quality = 90 });
        });
        Assert.Equal(new PixelDensity(11811, 5906, true), ImageFiles.Read(p, long.MaxValue).Density);
    }

    [Fact]
    public void ProfileWinsOverSrgbAndDamagedChunksAreDropped()
    {
        string p = Path.Combine(Dir, "both.png");
        ImageFiles.SavePng(SyntheticScene.Create(24, 16), p, colour: new ColourInfo(IccProfile: Profile(), SrgbIntent: 0, Gamma: 45455));
        Assert.DoesNotContain("sRGB", ChunkTypes(p));   // PNG 1.2: not both
        Assert.Equal(Profile(), ImageFiles.Read(p, long.MaxValue).IccProfile);
        // flip a byte of gAMA's value: its CRC no longer holds, so it is ignored; the rest reads
        var bytes = File.ReadAllBytes(p);
        int at = System.Text.Encoding.ASCII.GetString(bytes).IndexOf("gAMA", StringComparison.Ordinal);
        bytes[at + 5] ^= 0x40;
        File.WriteAllBytes(p, bytes);
        var read = ImageFiles.Read(p, long.MaxValue);
        Assert.Null(read.Colour.Gamma);
        Assert.Equal(Profile(), read.IccProfile);
        Assert.Equal((24, 16), (read.Rgb.Width, read.Rgb.Height));
    }

    [Fact]
    public void IccChunkThatInflatesPastTheCapIsDropped()
    {
        // 20 MiB of zeros deflate to about 20 KiB: a PNG carrying them still reads, without its profile
        string p = Path.Combine(Dir, "bomb.png");
        ImageFiles.SavePng(SyntheticScene.Create(20, 16), p, colour: new ColourInfo(IccProfile: new byte[ColourInfo.MaxProfileBytes + (4 << 20)]));
        Assert.True(new FileInfo(p).Length < 200_000);
        var image = ImageFiles.Read(p, long.MaxValue);
        Assert.Null(image.IccProfile);
        Assert.Equal((20, 16), (image.Rgb.Width, image.Rgb.Height));
    }

    [Fact]
    public void FailedWriteLeavesNoTempFile()
    {
        // the output name is taken by a folder: the encode succeeds, the final move cannot
        string output = Path.Combine(Dir, "taken.png");
        Directory.CreateDirectory(output);
        string model = Path.Combine(Dir, "m.safetensors");
        File.WriteAllBytes(model, TestModels.Bytes(TestModels.Config(QuantizerKind.Ddtb, 4, blocks: 1)));
        var (code, _, err) = Run("upscale", Png(20, 16), output, "--model", model);
        Assert.Equal(1, code);
        Assert.StartsWith("refqsr: ", err.Trim().Split('\n')[^1]);
        Assert.False(File.Exists(output + ".tmp"));
    }

    [Fact]
    public void ModelThatOverflowsIsAModelError()
    {
        string model = Path.Combine(Dir, "nan.safetensors");
        var c = TestModels.Config(blocks: 1);
        File.WriteAllBytes(model, ModelFile.Serialize(c, TestModels.Tensors(c).Select(t => t.Name == "tail.weight"
            ? Tensor.FromFloats(t.Name, t.ToFloats().Select((_, i) => i % 2 == 0 ? 3e38f : -3e38f).ToArray(), [.. t.Shape]) : t)));
        var (code, _, err) = Run("upscale", Png(20, 16), Path.Combine(Dir, "o.png"), "--model", model);
        Assert.Equal(1, code);
        Assert.StartsWith("refqsr: model error: the network's output for patch (0, 0)", err.Trim().Split('\n')[^1]);
        Assert.False(File.Exists(Path.Combine(Dir, "o.png")));
    }
}
