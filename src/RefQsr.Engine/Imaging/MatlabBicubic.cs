namespace RefQsr.Engine.Imaging;

/// <summary>
/// MATLAB <c>imresize(img, scale, 'bicubic')</c> for uint8 RGB images (SPEC §6): Keys cubic
/// with a = -0.5, kernel widened by 1/scale when downscaling (antialiasing), symmetric
/// boundary. Mirrors <c>train/refqsr_train/imresize.py</c> operation by operation (float64,
/// same accumulation order) so both produce identical bytes; do not "optimise" the
/// arithmetic order without changing the Python reference too.
/// </summary>
public static class MatlabBicubic
{
    /// <summary>MATLAB's output length: ceil(length * scale).</summary>
    public static int OutputLength(int inputLength, double scale)
    {
        CheckScale(scale);
        if (inputLength < 1)
            throw new ArgumentException($"Input length must be positive, got {inputLength}.", nameof(inputLength));
        double length = Math.Ceiling(inputLength * scale);
        if (length < 1 || length > int.MaxValue)
            throw new ArgumentException(
                $"Resizing a length of {inputLength} by {scale} gives {length} pixels, which is not a valid size.",
                nameof(scale));
        return (int)length;
    }

    /// <summary>Resizes and rounds like MATLAB's uint8 conversion (clamp, then half away from zero).</summary>
    public static RgbImage Resize(RgbImage source, double scale)
    {
        ArgumentNullException.ThrowIfNull(source);
        var result = new RgbImage(OutputLength(source.Width, scale), OutputLength(source.Height, scale));
        byte[] pixels = result.Pixels;
        int rowLength = result.Width * RgbImage.Channels;
        ResizeByRows(source.Pixels, source.Width, source.Height, RgbImage.Channels, scale,
            (i, row) => RoundRow(row, pixels.AsSpan(i * rowLength, rowLength)));
        return result;
    }

    /// <summary>One channel (height x width bytes, e.g. an alpha plane) resized as
    /// <see cref="Resize"/> resizes each channel, to the same bytes.</summary>
    public static byte[] ResizePlane(ReadOnlySpan<byte> plane, int width, int height, double scale)
    {
        if (width < 1 || height < 1 || plane.Length != (long)width * height)
            throw new ArgumentException($"A {width}x{height} plane needs {(long)width * height} values, got {plane.Length}.", nameof(plane));
        int outWidth = OutputLength(width, scale), outHeight = OutputLength(height, scale);
        if ((long)outWidth * outHeight > Array.MaxLength)
            throw new ArgumentException($"A {outWidth}x{outHeight} plane is too large for one array.", nameof(scale));
        var result = new byte[outWidth * outHeight];
        ResizeByRows(plane, width, height, 1, scale, (i, row) => RoundRow(row, result.AsSpan(i * outWidth, outWidth)));
        return result;
    }

    /// <summary>
    /// The unrounded float64 result, H' x W' x 3 interleaved with H' = OutputLength(Height, scale)
    /// and W' = OutputLength(Width, scale); used for bicubic upscaling baselines.
    /// </summary>
    public static double[] ResizeToDoubles(RgbImage source, double scale)
    {
        ArgumentNullException.ThrowIfNull(source);
        int rowLength = OutputLength(source.Width, scale) * RgbImage.Channels;
        var result = new double[OutputLength(source.Height, scale) * rowLength];
        ResizeByRows(source.Pixels, source.Width, source.Height, RgbImage.Channels, scale,
            (i, row) => row.CopyTo(result.AsSpan(i * rowLength, rowLength)));
        return result;
    }

    delegate void RowSink(int row, ReadOnlySpan<double> values);

    /// <summary>The resize every public form shares, one output row at a time: height first
    /// (the row's float64 sums of the input rows it takes, element by element), then width,
    /// tap by tap in the contributions' order and skipping zero weights, as the Python
    /// reference computes them. It keeps one row of sums, so memory does not grow with the
    /// image; <paramref name="row"/> gets each output row (W' x channels).</summary>
    static void ResizeByRows(ReadOnlySpan<byte> pixels, int width, int height, int channels, double scale, RowSink row)
    {
        int outWidth = OutputLength(width, scale), outHeight = OutputLength(height, scale);
        var rows = ResizeContributions.Compute(height, outHeight, scale);
        var columns = ResizeContributions.Compute(width, outWidth, scale);
        int inRowLength = width * channels;
        var sums = new double[inRowLength];
        var output = new double[outWidth * channels];
        for (int i = 0; i < outHeight; i++)
        {
            Array.Clear(sums);
            for (int k = 0; k < rows.Taps; k++)
            {
                double weight = rows.Weight(i, k);
                if (weight == 0.0)
                    continue; // the reference skips zero weights
                ReadOnlySpan<byte> inRow = pixels.Slice(rows.Index(i, k) * inRowLength, inRowLength);
                for (int e = 0; e < inRowLength; e++)
                    sums[e] += weight * inRow[e];
            }
            for (int j = 0; j < outWidth; j++)
                for (int c = 0; c < channels; c++)
                {
                    double sum = 0.0;
                    for (int k = 0; k < columns.Taps; k++)
                    {
                        double weight = columns.Weight(j, k);
                        if (weight == 0.0)
                            continue;
                        sum += weight * sums[columns.Index(j, k) * channels + c];
                    }
                    output[j * channels + c] = sum;
                }
            row(i, output);
        }
    }

    /// <summary>MATLAB's uint8 conversion: clamp, then round half away from zero.</summary>
    static void RoundRow(ReadOnlySpan<double> values, Span<byte> bytes)
    {
        for (int i = 0; i < values.Length; i++)
            bytes[i] = (byte)Math.Floor(Math.Clamp(values[i], 0.0, 255.0) + 0.5);
    }

    /// <summary>The LR image of SPEC §6: crop HR to multiples of <paramref name="factor"/>, then resize by 1/factor.</summary>
    public static RgbImage Downscale(RgbImage highRes, int factor)
    {
        ArgumentNullException.ThrowIfNull(highRes);
        if (factor < 1)
            throw new ArgumentException($"Downscale factor must be at least 1, got {factor}.", nameof(factor));
        int width = highRes.Width - highRes.Width % factor;
        int height = highRes.Height - highRes.Height % factor;
        if (width == 0 || height == 0)
            throw new ArgumentException(
                $"A {highRes.Width}x{highRes.Height} image is smaller than the downscale factor {factor}.",
                nameof(highRes));
        RgbImage cropped = width == highRes.Width && height == highRes.Height
            ? highRes
            : highRes.Crop(0, 0, width, height);
        return Resize(cropped, 1.0 / factor);
    }

    /// <summary>The unrounded bicubic upscale by an integer factor (the "bicubic" comparison image).</summary>
    public static double[] UpscaleToDoubles(RgbImage lowRes, int factor)
    {
        if (factor < 1)
            throw new ArgumentException($"Upscale factor must be at least 1, got {factor}.", nameof(factor));
        return ResizeToDoubles(lowRes, factor);
    }

    private static void CheckScale(double scale)
    {
        if (!double.IsFinite(scale) || scale <= 0)
            throw new ArgumentException($"Resize scale must be a positive finite number, got {scale}.", nameof(scale));
    }
}
