using RefQsr.Engine.Imaging;
using SixLabors.ImageSharp;
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
        IImageInfo? info;
        try { info = Image.Identify(path); }
        catch (Exception e) when (e is ImageFormatException or InvalidImageContentException or UnknownImageFormatException or NotSupportedException)
        { throw new CliException($"{path}: not a readable image ({e.Message})"); }
        if (info is null) throw new CliException($"{path}: not a readable image (unknown format)");
        long pixels = (long)info.Width * info.Height;
        if (info.Width <= 0 || info.Height <= 0) throw new CliException($"{path}: image has no pixels");
        if (pixels > maxPixels)
            throw new CliException($"{path}: {info.Width}x{info.Height} = {pixels} pixels exceeds the limit of {maxPixels} (raise it with --max-pixels)");
        try
        {
            using var img = Image.Load<Rgb24>(path);
            var data = new byte[img.Width * img.Height * 3];
            img.CopyPixelDataTo(data);
            return new RgbImage(img.Width, img.Height, data);
        }
        catch (Exception e) when (e is ImageFormatException or InvalidImageContentException or UnknownImageFormatException or NotSupportedException)
        { throw new CliException($"{path}: image is corrupt or truncated ({e.Message})"); }
    }

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
