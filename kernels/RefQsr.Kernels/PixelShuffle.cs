namespace RefQsr.Kernels;

/// <summary>PyTorch PixelShuffle(r) on HWC tensors: input channel c·r² + i·r + j goes to
/// output channel c at sub-pixel (i, j).</summary>
public static class PixelShuffle
{
    public static void Run(ReadOnlySpan<float> input, int height, int width, int inChannels, int r, Span<float> output)
    {
        if (r <= 0 || inChannels % (r * r) != 0)
            throw new ArgumentException($"pixel shuffle: {inChannels} channels are not a multiple of {r}x{r}");
        int c = inChannels / (r * r), ow = width * r;
        if (input.Length < height * width * inChannels || output.Length < height * width * inChannels)
            throw new ArgumentException("pixel shuffle: buffer too small");
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
            {
                var src = input.Slice((y * width + x) * inChannels, inChannels);
                for (int ch = 0; ch < c; ch++)
                    for (int i = 0; i < r; i++)
                        for (int j = 0; j < r; j++)
                            output[((y * r + i) * ow + x * r + j) * c + ch] = src[ch * r * r + i * r + j];
            }
    }

    /// <summary>Conv weights [r²·C][...] (OIHW, PyTorch's order for PixelShuffle: output
    /// channel c·r² + i·r + j) reordered so that output channel (i·r + j)·C + c comes
    /// first-by-sub-pixel: the order <see cref="FloatConv2d.RunSubPixel2"/> reads.</summary>
    public static float[] SubPixelOrder(ReadOnlySpan<float> weightsOihw, int outChannels, int r)
    {
        if (r <= 0 || outChannels % (r * r) != 0 || weightsOihw.Length % outChannels != 0)
            throw new ArgumentException($"pixel shuffle: {outChannels} output channels are not a multiple of {r}x{r}");
        int c = outChannels / (r * r), per = weightsOihw.Length / outChannels;
        var reordered = new float[weightsOihw.Length];
        for (int ch = 0; ch < c; ch++)
            for (int s = 0; s < r * r; s++)
                weightsOihw.Slice((ch * r * r + s) * per, per).CopyTo(reordered.AsSpan((s * c + ch) * per, per));
        return reordered;
    }
}
