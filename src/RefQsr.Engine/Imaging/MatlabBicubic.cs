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
        double[] values = ResizeToDoubles(source, scale);
        var result = new RgbImage(OutputLength(source.Width, scale), OutputLength(source.Height, scale));
        byte[] pixels = result.Pixels;
        for (int i = 0; i < values.Length; i++)
            pixels[i] = (byte)Math.Floor(Math.Clamp(values[i], 0.0, 255.0) + 0.5);
        return result;
    }

    /// <summary>One channel (height x width bytes, e.g. an alpha plane) resized as
    /// <see cref="Resize"/> resizes each channel, to the same bytes: the same contributions and
    /// the same float64 sums in the same order, but one output row at a time, so it needs
    /// memory for one row of sums however large the image.</summary>
    public static byte[] ResizePlane(ReadOnlySpan<byte> plane, int width, int height, double scale)
    {
        if (width < 1 || height < 1 || plane.Length != (long)width * height)
            throw new ArgumentException($"A {width}x{height} plane needs {(long)width * height} values, got {plane.Length}.", nameof(plane));
        int outWidth = OutputLength(width, scale), outHeight = OutputLength(height, scale);
        if ((long)outWidth * outHeight > Array.MaxLength)
            throw new ArgumentException($"A {outWidth}x{outHeight} plane is too large for one array.", nameof(scale));
        var rows = ResizeContributions.Compute(height, outHeight, scale);
        var columns = ResizeContributions.Compute(width, outWidth, scale);
        var result = new byte[outWidth * outHeight];
        var sums = new double[width];
        for (int i = 0; i < outHeight; i++)
        {
            Array.Clear(sums);
            for (int k = 0; k < rows.Taps; k++)
            {
                double weight = rows.Weight(i, k);
                if (weight == 0.0)
                    continue;
                ReadOnlySpan<byte> inRow = plane.Slice(rows.Index(i, k) * width, width);
                for (int x = 0; x < width; x++)
                    sums[x] += weight * inRow[x];
            }
            for (int j = 0; j < outWidth; j++)
            {
                double sum = 0.0;
                for (int k = 0; k < columns.Taps; k++)
                {
                    double weight = columns.Weight(j, k);
                    if (weight == 0.0)
                        continue;
                    sum += weight * sums[columns.Index(j, k)];
                }
                result[i * outWidth + j] = (byte)Math.Floor(Math.Clamp(sum, 0.0, 255.0) + 0.5);
            }
        }
        return result;
    }

    /// <summary>
    /// The unrounded float64 result, H' x W' x 3 interleaved with H' = OutputLength(Height, scale)
    /// and W' = OutputLength(Width, scale); used for bicubic upscaling baselines.
    /// </summary>
    public static double[] ResizeToDoubles(RgbImage source, double scale)
    {
        ArgumentNullException.ThrowIfNull(source);
        int outWidth = OutputLength(source.Width, scale);
        int outHeight = OutputLength(source.Height, scale);
        var input = new double[source.Pixels.Length];
        for (int i = 0; i < input.Length; i++)
            input[i] = source.Pixels[i];

        // Height first, then width, as in the Python reference.
        double[] rowsResized = ResizeRows(input, source.Width, source.Height, outHeight, scale);
        return ResizeColumns(rowsResized, source.Width, outHeight, outWidth, scale);
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

    private static double[] ResizeRows(double[] input, int width, int inHeight, int outHeight, double scale)
    {
        int rowLength = width * RgbImage.Channels;
        var contributions = ResizeContributions.Compute(inHeight, outHeight, scale);
        var output = new double[outHeight * rowLength];
        for (int i = 0; i < outHeight; i++)
        {
            Span<double> outRow = output.AsSpan(i * rowLength, rowLength);
            for (int k = 0; k < contributions.Taps; k++)
            {
                double weight = contributions.Weight(i, k);
                if (weight == 0.0)
                    continue; // the reference skips zero weights
                ReadOnlySpan<double> inRow = input.AsSpan(contributions.Index(i, k) * rowLength, rowLength);
                for (int e = 0; e < rowLength; e++)
                    outRow[e] += weight * inRow[e];
            }
        }
        return output;
    }

    private static double[] ResizeColumns(double[] input, int inWidth, int height, int outWidth, double scale)
    {
        const int channels = RgbImage.Channels;
        var contributions = ResizeContributions.Compute(inWidth, outWidth, scale);
        var output = new double[height * outWidth * channels];
        for (int y = 0; y < height; y++)
        {
            int inBase = y * inWidth * channels;
            int outBase = y * outWidth * channels;
            for (int j = 0; j < outWidth; j++)
            {
                for (int c = 0; c < channels; c++)
                {
                    double sum = 0.0;
                    for (int k = 0; k < contributions.Taps; k++)
                    {
                        double weight = contributions.Weight(j, k);
                        if (weight == 0.0)
                            continue;
                        sum += weight * input[inBase + contributions.Index(j, k) * channels + c];
                    }
                    output[outBase + j * channels + c] = sum;
                }
            }
        }
        return output;
    }

    private static void CheckScale(double scale)
    {
        if (!double.IsFinite(scale) || scale <= 0)
            throw new ArgumentException($"Resize scale must be a positive finite number, got {scale}.", nameof(scale));
    }
}
