using System.Buffers;

namespace RefQsr.Kernels;

/// <summary>HWC images with a ring of zero pixels around them: the input layout of every
/// "same" convolution kernel here, integer and float.</summary>
internal static class Padding
{
    /// <summary>Zeroes everything of a (h + 2·pad) x (w + 2·pad) x c image except its
    /// interior, and whatever follows it in <paramref name="padded"/> (the kernels' slack).</summary>
    public static void ClearRing<T>(Span<T> padded, int h, int w, int c, int pad)
    {
        int pw = w + 2 * pad;
        padded[..((pad * pw + pad) * c)].Clear();                                    // top rows, first left ring
        for (int y = 0; y < h; y++)
            padded.Slice(((y + pad) * pw + pad + w) * c, 2 * pad * c).Clear();      // right ring, next left ring
        padded[(((h + pad) * pw + pad) * c)..].Clear();                               // bottom rows and slack
    }

    /// <summary>The input inside a zero ring of <paramref name="pad"/> pixels, in a pooled
    /// array (return it to <see cref="ArrayPool{T}.Shared"/>) with
    /// <paramref name="slackPixels"/> zero pixels after it for kernels whose partial tiles
    /// read, but never store, past the last pixel. Only the ring and the slack are cleared.</summary>
    public static T[] Rent<T>(ReadOnlySpan<T> input, int h, int w, int c, int pad, int slackPixels)
    {
        int pw = w + 2 * pad, len = checked((h + 2 * pad) * pw * c + slackPixels * c);
        var p = ArrayPool<T>.Shared.Rent(len);
        var span = p.AsSpan(0, len);
        ClearRing(span, h, w, c, pad);
        for (int y = 0; y < h; y++)
            input.Slice(y * w * c, w * c).CopyTo(span.Slice(((y + pad) * pw + pad) * c, w * c));
        return p;
    }

    /// <summary>The input at (1, 1) of a zero <paramref name="paddedH"/> x
    /// <paramref name="paddedW"/> x c image, in a pooled array: the one-pixel ring of a "same"
    /// 3x3 conv plus whatever more rows and columns a tiled kernel reads past the bottom and
    /// right edges (Winograd tiles hanging over the image). Only the zero parts are cleared.</summary>
    public static T[] RentTiled<T>(ReadOnlySpan<T> input, int h, int w, int c, int paddedH, int paddedW)
    {
        if (paddedH < h + 2 || paddedW < w + 2) throw new ArgumentException($"padded size {paddedH}x{paddedW} is smaller than {h}x{w} with a ring");
        int pw = paddedW, len = checked(paddedH * pw * c);
        var p = ArrayPool<T>.Shared.Rent(len);
        var span = p.AsSpan(0, len);
        span[..((pw + 1) * c)].Clear();
        for (int y = 0; y < h; y++)
        {
            input.Slice(y * w * c, w * c).CopyTo(span.Slice(((y + 1) * pw + 1) * c));
            int after = ((y + 1) * pw + 1 + w) * c;
            span.Slice(after, ((y + 2) * pw + 1) * c - after).Clear();   // right columns, next row's left pixel
        }
        span[(((h + 1) * pw + 1) * c)..].Clear();
        return p;
    }
}
