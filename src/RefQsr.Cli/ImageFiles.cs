using RefQsr.Engine.Imaging;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.Metadata.Profiles.Exif;
using SixLabors.ImageSharp.PixelFormats;
using SixLabors.ImageSharp.Processing;

namespace RefQsr.Cli;

/// <summary>An image as read: RGB, the alpha plane (H x W) when some pixel is not opaque, what
/// the file says about its colours (ICC profile, PNG's sRGB, gAMA, cHRM), its pixel density
/// (PNG's pHYs, JPEG's JFIF density or EXIF resolution) and the bits per channel the file
/// stored (16 for a 16-bit PNG, which <see cref="Rgb"/> and <see cref="Alpha"/> hold rounded to 8).</summary>
public sealed record LoadedImage(RgbImage Rgb, byte[]? Alpha, ColourInfo Colour, PixelDensity? Density = null, int SourceBits = 8)
{
    public byte[]? IccProfile => Colour.IccProfile;
}

/// <summary>Image files in and out. Sizes are checked from the header before any pixel is
/// decoded: crafted images are an attack surface.</summary>
public static class ImageFiles
{
    public const long DefaultMaxPixels = 40_000_000;
    static readonly string[] Readable = [".png", ".jpg", ".jpeg", ".bmp"];

    static ImageFiles()
    {
        // ImageSharp 2.1 reads each EXIF entry's type through Enum.GetValues(typeof(ExifDataType)),
        // which makes an ExifDataType[] at run time; a NativeAOT build has that array type only
        // if some code makes one, else every JPEG with EXIF fails to decode. This makes one
        // (its only such enum in 2.1.13; scripts/check-native.sh reads an EXIF JPEG).
        GC.KeepAlive(new ExifDataType[1]);
    }

    /// <summary>Whether the file's extension is one <see cref="Read"/> takes.</summary>
    public static bool IsReadable(string path) => Readable.Contains(Path.GetExtension(path).ToLowerInvariant());

    public static RgbImage Load(string path, long maxPixels) => Read(path, maxPixels).Rgb;

    /// <summary>The image turned upright by its EXIF orientation: its RGB, its alpha plane
    /// (H x W) where the file has one with a pixel that is not opaque, and its colour information.
    /// The network sees RGB only, so the caller carries the rest across rather than lose it.</summary>
    public static LoadedImage Read(string path, long maxPixels)
    {
        // one open file for the header, the truncation check and the decode: the bytes
        // checked are the bytes decoded
        using var stream = OpenImageFile(path);
        return Decode(stream, path, maxPixels);
    }

    /// <summary>The file, opened for reading once it exists and has an extension <see cref="Read(string, long)"/> takes.</summary>
    static FileStream OpenImageFile(string path)
    {
        if (!File.Exists(path)) throw new CliException($"input image not found: {path}");
        string ext = Path.GetExtension(path).ToLowerInvariant();
        if (!Readable.Contains(ext)) throw new CliException($"{path}: unsupported image type '{ext}' (PNG, JPEG and BMP are read)");
        return File.OpenRead(path);
    }

    /// <summary>At most this many bytes are read from standard input (a PNG of the largest
    /// image --max-pixels allows by default is far smaller).</summary>
    public const int MaxStreamBytes = 1 << 30;

    /// <summary><see cref="Read"/> for an image piped in (`refqsr upscale - OUT`): read whole,
    /// at most <see cref="MaxStreamBytes"/>, then checked and decoded as a file is; the format is
    /// told by its bytes.</summary>
    public static LoadedImage Read(Stream input, long maxPixels)
    {
        var buffer = new MemoryStream();
        var chunk = new byte[1 << 16];
        int n;
        while ((n = input.Read(chunk, 0, chunk.Length)) > 0)
        {
            if (buffer.Length + n > MaxStreamBytes) throw new CliException($"standard input holds more than {MaxStreamBytes >> 20} MiB: not an image this command reads");
            buffer.Write(chunk, 0, n);
        }
        if (buffer.Length == 0) throw new CliException("standard input is empty: pipe a PNG, JPEG or BMP image into `refqsr upscale - OUT`");
        buffer.Position = 0;
        return Decode(buffer, "standard input", maxPixels);
    }

    /// <summary>The size of the image in <paramref name="path"/> after every check <see cref="Read(string, long)"/>
    /// makes before it decodes pixels (type, header, size limit, truncation): a command that
    /// works through many files checks them all first, so a bad one stops it before the work.</summary>
    public static (int Width, int Height) Check(string path, long maxPixels)
    {
        using var stream = OpenImageFile(path);
        var (info, _) = CheckHeader(stream, path, maxPixels);
        return (info.Width, info.Height);
    }

    /// <summary>The header and structure checks of <see cref="Decode"/>; the stream is left at its start.</summary>
    static (IImageInfo Info, IImageFormat Format) CheckHeader(Stream stream, string path, long maxPixels)
    {
        IImageInfo? info;
        IImageFormat? format;
        try { info = Image.Identify(stream, out format); }
        catch (Exception e) when (IsDecoderFailure(e)) { throw new CliException($"{path}: not a readable image ({e.Message})"); }
        if (info is null || format is null) throw new CliException($"{path}: not a readable image (unknown format)");
        if (format.Name is not ("PNG" or "JPEG" or "BMP")) throw new CliException($"{path}: unsupported image type {format.Name} (PNG, JPEG and BMP are read)");
        long pixels = (long)info.Width * info.Height;
        if (info.Width <= 0 || info.Height <= 0) throw new CliException($"{path}: image has no pixels");
        if (pixels > maxPixels)
            throw new CliException($"{path}: {info.Width}x{info.Height} = {pixels} pixels exceeds the limit of {maxPixels} (raise it with --max-pixels)");
        stream.Position = 0;
        if (TruncatedImages.Problem(stream, format.Name) is { } missing) throw new CliException($"{path}: image is truncated ({missing})");
        stream.Position = 0;
        return (info, format);
    }

    /// <summary>The checks and the decode of <see cref="Read(string, long)"/> on a seekable stream,
    /// <paramref name="path"/> naming it in messages.</summary>
    static LoadedImage Decode(Stream stream, string path, long maxPixels)
    {
        var (info, format) = CheckHeader(stream, path, maxPixels);
        try
        {
            // JPEG has no alpha; PNG (alpha channel or tRNS) and BMP may
            using Image img = format.Name == "JPEG" ? Image.Load<Rgb24>(stream) : Image.Load<Rgba32>(stream);
            if (img.Width != info.Width || img.Height != info.Height)
                throw new CliException($"{path}: image is corrupt (its header says {info.Width}x{info.Height}, its data {img.Width}x{img.Height})");
            // the density as stored (EXIF is one of its sources), turned with the picture below
            var exif = img.Metadata.ExifProfile;
            bool quarterTurn = exif?.GetValue(ExifTag.Orientation)?.Value is >= 5 and <= 8;
            var density = PixelDensity.Read(stream, format.Name, exif);
            // a camera's EXIF orientation: upscale the picture as viewers show it (the PNG out
            // carries no orientation), as OpenCV's imread and browsers do
            img.Mutate(x => x.AutoOrient());
            if (quarterTurn) density = density?.Transposed();
            var colour = ColourInfo.Read(stream, format.Name, img);
            // the engine reads and writes 8 bits per channel: a 16-bit PNG is rounded, and said to be
            int bits = format.Name == "PNG" && img.Metadata.GetPngMetadata().BitDepth == PngBitDepth.Bit16 ? 16 : 8;
            if (img is Image<Rgb24> rgb24)
            {
                var rgb = new byte[img.Width * img.Height * 3];
                rgb24.CopyPixelDataTo(rgb);
                return new LoadedImage(new RgbImage(img.Width, img.Height, rgb), null, colour, density, bits);
            }
            var (rgbPixels, alpha) = SplitAlpha((Image<Rgba32>)img);
            return new LoadedImage(rgbPixels, alpha, colour, density, bits);
        }
        catch (Exception e) when (IsDecoderFailure(e)) { throw new CliException($"{path}: image is corrupt or truncated ({e.Message})"); }
    }

    /// <summary>RGB and the alpha plane, or no plane where every pixel is opaque.</summary>
    static (RgbImage Rgb, byte[]? Alpha) SplitAlpha(Image<Rgba32> img)
    {
        int count = img.Width * img.Height;
        var rgba = new byte[count * 4];
        img.CopyPixelDataTo(rgba);
        var rgb = new byte[count * 3];
        var alpha = new byte[count];
        bool opaque = true;
        for (int i = 0; i < count; i++)
        {
            rgb[3 * i] = rgba[4 * i]; rgb[3 * i + 1] = rgba[4 * i + 1]; rgb[3 * i + 2] = rgba[4 * i + 2];
            alpha[i] = rgba[4 * i + 3];
            opaque &= alpha[i] == 255;
        }
        return (new RgbImage(img.Width, img.Height, rgb), opaque ? null : alpha);
    }

    /// <summary>Whatever a decoder throws on crafted bytes is the file's fault: ImageSharp 2.1
    /// throws not only its format exceptions but also InvalidOperationException (a BMP's size
    /// limit), DivideByZeroException and NullReferenceException on fuzzed BMP and JPEG headers.
    /// Out of memory and genuine read errors are not the file's content, so they pass.</summary>
    static bool IsDecoderFailure(Exception e)
        => e is not (OutOfMemoryException or CliException) && (e is not IOException || e is EndOfStreamException);

    /// <summary>Writes an RGB PNG, or an RGBA one when <paramref name="alpha"/> (H x W) is given,
    /// with <paramref name="colour"/> (an input's colour information) and <paramref name="density"/>
    /// embedded when given.</summary>
    public static void SavePng(RgbImage image, string path, byte[]? alpha = null, ColourInfo? colour = null, PixelDensity? density = null)
    {
        CheckOutputFolder(path);
        // write to a temp file first so a failed write never leaves half an image
        string tmp = path + ".tmp";
        try
        {
            using (var file = File.Create(tmp)) WritePng(image, file, alpha, colour, density);
            File.Move(tmp, path, overwrite: true);
        }
        catch
        {
            // a full disk or a vanished folder: leave neither half an image nor its temp file
            try { File.Delete(tmp); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            throw;
        }
    }

    /// <summary>Throws where the folder <paramref name="path"/> would be written into does not
    /// exist: checked before the work too, so a typo costs no upscale.</summary>
    public static void CheckOutputFolder(string path)
    {
        string? dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (dir is not null && !Directory.Exists(dir)) throw new CliException($"output folder does not exist: {dir}");
    }

    /// <summary>The PNG of <see cref="SavePng"/> written to a stream (`refqsr upscale IN -`: standard output).</summary>
    public static void WritePng(RgbImage image, Stream output, byte[]? alpha = null, ColourInfo? colour = null, PixelDensity? density = null)
    {
        if (alpha is not null && alpha.Length != image.Width * image.Height)
            throw new ArgumentException($"alpha plane has {alpha.Length} values, expected {image.Width}x{image.Height}");
        using Image img = alpha is null ? Image.LoadPixelData<Rgb24>(image.Pixels, image.Width, image.Height) : Rgba(image, alpha);
        // no pHYs of ImageSharp's own: it would state 96 DPI whatever the input said
        var encoder = new PngEncoder { ChunkFilter = PngChunkFilter.ExcludePhysicalChunk };
        var chunks = (colour ?? ColourInfo.None).ToPngChunks().ToList();
        if (density is not null) chunks.Add(("pHYs", density.ChunkData()));
        if (chunks.Count == 0)
        {
            img.Save(output, encoder);
            return;
        }
        var png = new MemoryStream();
        img.Save(png, encoder);
        output.Write(PngChunks.InsertAfterHeader(png.ToArray(), chunks));
    }

    /// <summary>Filled row by row: a whole-image RGBA array would pass 2 GiB for the largest
    /// outputs --max-pixels allows (40 M LR pixels are 640 M HR pixels).</summary>
    static Image<Rgba32> Rgba(RgbImage image, byte[] alpha)
    {
        var img = new Image<Rgba32>(image.Width, image.Height);
        img.ProcessPixelRows(rows =>
        {
            for (int y = 0; y < rows.Height; y++)
            {
                var row = rows.GetRowSpan(y);
                long at = (long)y * image.Width;
                for (int x = 0; x < row.Length; x++)
                {
                    long i = at + x;
                    row[x] = new Rgba32(image.Pixels[3 * i], image.Pixels[3 * i + 1], image.Pixels[3 * i + 2], alpha[i]);
                }
            }
        });
        return img;
    }

    /// <summary>An alpha plane scaled as the RGB is, with the MATLAB-style bicubic the
    /// evaluation uses (the network has no alpha to learn from).</summary>
    public static byte[] UpscaleAlpha(byte[] alpha, int width, int height, int scale)
        => MatlabBicubic.ResizePlane(alpha, width, height, scale);

    /// <summary>True when the two paths name the same file (after resolving).</summary>
    public static bool SameFile(string a, string b)
        => string.Equals(Path.GetFullPath(a), Path.GetFullPath(b), StringComparison.Ordinal);
}
