using RefQsr.Engine.Imaging;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.PixelFormats;

namespace RefQsr.Cli;

/// <summary>Image files in and out. Sizes are checked from the header before any pixel is
/// decoded: crafted images are an attack surface.</summary>
public static class ImageFiles
{
    public const long DefaultMaxPixels = 40_000_000;
    static readonly string[] Readable = [".png", ".jpg", ".jpeg", ".bmp"];

    public static RgbImage Load(string path, long maxPixels)
    {
        if (!File.Exists(path)) throw new CliException($"input image not found: {path}");
        string ext = Path.GetExtension(path).ToLowerInvariant();
        if (!Readable.Contains(ext)) throw new CliException($"{path}: unsupported image type '{ext}' (PNG, JPEG and BMP are read)");
        // one open file for the header, the truncation check and the decode: the bytes
        // checked are the bytes decoded
        using var stream = File.OpenRead(path);
        IImageInfo? info;
        IImageFormat? format;
        try { info = Image.Identify(stream, out format); }
        catch (Exception e) when (IsDecoderFailure(e)) { throw new CliException($"{path}: not a readable image ({e.Message})"); }
        if (info is null || format is null) throw new CliException($"{path}: not a readable image (unknown format)");
        long pixels = (long)info.Width * info.Height;
        if (info.Width <= 0 || info.Height <= 0) throw new CliException($"{path}: image has no pixels");
        if (pixels > maxPixels)
            throw new CliException($"{path}: {info.Width}x{info.Height} = {pixels} pixels exceeds the limit of {maxPixels} (raise it with --max-pixels)");
        stream.Position = 0;
        if (TruncatedImages.Problem(stream, format.Name) is { } missing) throw new CliException($"{path}: image is truncated ({missing})");
        stream.Position = 0;
        try
        {
            using var img = Image.Load<Rgb24>(stream);
            if (img.Width != info.Width || img.Height != info.Height)
                throw new CliException($"{path}: image is corrupt (its header says {info.Width}x{info.Height}, its data {img.Width}x{img.Height})");
            var data = new byte[img.Width * img.Height * 3];
            img.CopyPixelDataTo(data);
            return new RgbImage(img.Width, img.Height, data);
        }
        catch (Exception e) when (IsDecoderFailure(e)) { throw new CliException($"{path}: image is corrupt or truncated ({e.Message})"); }
    }

    /// <summary>Whatever a decoder throws on crafted bytes is the file's fault: ImageSharp 2.1
    /// throws not only its format exceptions but also InvalidOperationException (a BMP's size
    /// limit), DivideByZeroException and NullReferenceException on fuzzed BMP and JPEG headers.
    /// Out of memory and genuine read errors are not the file's content, so they pass.</summary>
    static bool IsDecoderFailure(Exception e)
        => e is not (OutOfMemoryException or CliException) && (e is not IOException || e is EndOfStreamException);

    public static void SavePng(RgbImage image, string path)
    {
        string? dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (dir is not null && !Directory.Exists(dir)) throw new CliException($"output folder does not exist: {dir}");
        using var img = Image.LoadPixelData<Rgb24>(image.Pixels, image.Width, image.Height);
        // write to a temp file first so a failed write never leaves half an image
        string tmp = path + ".tmp";
        img.Save(tmp, new PngEncoder());
        File.Move(tmp, path, overwrite: true);
    }

    /// <summary>True when the two paths name the same file (after resolving).</summary>
    public static bool SameFile(string a, string b)
        => string.Equals(Path.GetFullPath(a), Path.GetFullPath(b), StringComparison.Ordinal);
}
