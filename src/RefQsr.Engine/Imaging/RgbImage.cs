namespace RefQsr.Engine.Imaging;

/// <summary>An 8-bit RGB image, interleaved: <c>Pixels[(y * Width + x) * 3 + c]</c>.</summary>
public sealed class RgbImage
{
    public const int Channels = 3;

    public int Width { get; }
    public int Height { get; }

    /// <summary>Height x Width x 3 bytes, row-major, channels R, G, B.</summary>
    public byte[] Pixels { get; }

    /// <summary>A black image.</summary>
    public RgbImage(int width, int height)
        : this(width, height, new byte[CheckedLength(width, height)])
    {
    }

    /// <summary>Wraps <paramref name="pixels"/> without copying.</summary>
    public RgbImage(int width, int height, byte[] pixels)
    {
        ArgumentNullException.ThrowIfNull(pixels);
        long expected = CheckedLength(width, height);
        if (pixels.Length != expected)
            throw new ArgumentException(
                $"An RGB image of {width}x{height} needs {expected} bytes, got {pixels.Length}.", nameof(pixels));
        Width = width;
        Height = height;
        Pixels = pixels;
    }

    public byte this[int x, int y, int channel]
    {
        get => Pixels[Index(x, y, channel)];
        set => Pixels[Index(x, y, channel)] = value;
    }

    /// <summary>A copy of the rectangle at (x, y) of size width x height.</summary>
    public RgbImage Crop(int x, int y, int width, int height)
    {
        if (x < 0 || y < 0 || width < 1 || height < 1 || x + width > Width || y + height > Height)
            throw new ArgumentException(
                $"Crop {width}x{height} at ({x}, {y}) does not fit inside the {Width}x{Height} image.");
        var result = new RgbImage(width, height);
        for (int row = 0; row < height; row++)
        {
            Pixels.AsSpan(((y + row) * Width + x) * Channels, width * Channels)
                .CopyTo(result.Pixels.AsSpan(row * width * Channels));
        }
        return result;
    }

    private int Index(int x, int y, int channel)
    {
        if ((uint)x >= (uint)Width || (uint)y >= (uint)Height || (uint)channel >= Channels)
            throw new ArgumentOutOfRangeException(
                nameof(x), $"Pixel ({x}, {y}, channel {channel}) is outside the {Width}x{Height} RGB image.");
        return (y * Width + x) * Channels + channel;
    }

    private static int CheckedLength(int width, int height)
    {
        if (width < 1 || height < 1)
            throw new ArgumentException($"Image size must be positive, got {width}x{height}.");
        long length = (long)width * height * Channels;
        if (length > Array.MaxLength)
            throw new ArgumentException($"An RGB image of {width}x{height} is too large for one array.");
        return (int)length;
    }
}
