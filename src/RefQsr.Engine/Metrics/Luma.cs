using RefQsr.Engine.Imaging;

namespace RefQsr.Engine.Metrics;

/// <summary>The Y channel of SPEC §6 (ITU-R BT.601, studio range) on 0..255 input.</summary>
public static class Luma
{
    /// <summary>Y = (65.738 R + 129.057 G + 25.064 B) / 256 + 16, Height x Width, row-major.</summary>
    public static double[] FromRgb(RgbImage image)
    {
        ArgumentNullException.ThrowIfNull(image);
        byte[] p = image.Pixels;
        var y = new double[image.Width * image.Height];
        for (int i = 0; i < y.Length; i++)
        {
            int o = i * RgbImage.Channels;
            y[i] = (65.738 * p[o] + 129.057 * p[o + 1] + 25.064 * p[o + 2]) / 256.0 + 16.0;
        }
        return y;
    }
}
