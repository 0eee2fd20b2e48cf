namespace RefQsr.Kernels;

/// <summary>RefER's flow upsampling (docs/refqsr.md step 5): bilinear resize of a
/// [height][width][2] displacement field, <c>align_corners=False</c>, exactly as PyTorch's
/// <c>F.interpolate(..., size=(H, W), mode="bilinear")</c> on CPU (float32 scale
/// in/out, source index clamped at 0, the edge neighbour repeated), then multiplied by a
/// factor (3: pooled units to pixels).</summary>
public static class FlowUpsample
{
    public const float PoolFactor = 3f;

    public static void Run(ReadOnlySpan<float> flow, int height, int width, Span<float> output, int outHeight, int outWidth, float factor = PoolFactor)
    {
        if (height <= 0 || width <= 0 || outHeight <= 0 || outWidth <= 0)
            throw new ArgumentException($"flow upsample: sizes must be positive ({width}x{height} to {outWidth}x{outHeight})");
        if (flow.Length < height * width * 2) throw new ArgumentException($"flow upsample: input has {flow.Length} values, needs {height * width * 2}");
        if (output.Length < outHeight * outWidth * 2) throw new ArgumentException($"flow upsample: output has {output.Length} values, needs {outHeight * outWidth * 2}");
        float sy = (float)height / outHeight, sx = (float)width / outWidth;
        for (int oy = 0; oy < outHeight; oy++)
        {
            var (y0, y1, ly0, ly1) = Source(sy, oy, height);
            for (int ox = 0; ox < outWidth; ox++)
            {
                var (x0, x1, lx0, lx1) = Source(sx, ox, width);
                for (int k = 0; k < 2; k++)
                {
                    float v = ly0 * (lx0 * flow[(y0 * width + x0) * 2 + k] + lx1 * flow[(y0 * width + x1) * 2 + k])
                            + ly1 * (lx0 * flow[(y1 * width + x0) * 2 + k] + lx1 * flow[(y1 * width + x1) * 2 + k]);
                    output[(oy * outWidth + ox) * 2 + k] = v * factor;
                }
            }
        }
    }

    // PyTorch area_pixel_compute_source_index (align_corners=False) and the neighbour/lambda rule of upsample_bilinear2d
    static (int I0, int I1, float L0, float L1) Source(float scale, int dst, int inSize)
    {
        float src = scale * (dst + 0.5f) - 0.5f;
        if (src < 0) src = 0;
        int i0 = Math.Min((int)src, inSize - 1);
        int i1 = i0 + (i0 < inSize - 1 ? 1 : 0);
        float l1 = src - i0, l0 = 1f - l1;
        return (i0, i1, l0, l1);
    }
}
