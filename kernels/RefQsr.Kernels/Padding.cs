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
}
