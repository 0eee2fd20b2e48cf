using RefQsr.Engine.Imaging;
using RefQsr.Engine.RefQsr;
using RefQsr.Engine.Tiling;

namespace RefQsr.Cli;

/// <summary>The picture behind <c>upscale --clusters</c>: the LR image enlarged by nearest
/// neighbour, each patch's kept region (the part it contributes to the output, so the
/// regions tile the image once) tinted with its cluster's colour, reference patches
/// outlined in white.</summary>
public static class ClusterMapImage
{
    public const int Zoom = 4;
    const float TintWeight = 0.45f;
    const int Outline = 2;

    public static RgbImage Draw(RgbImage lr, PatchGrid grid, ClusterAssignment clusters, int zoom = Zoom)
    {
        ArgumentNullException.ThrowIfNull(lr);
        if (clusters.PatchCount != grid.Patches.Count) throw new ArgumentException("cluster map: clusters and grid disagree on the patch count");
        var img = new RgbImage(lr.Width * zoom, lr.Height * zoom);
        for (int i = 0; i < grid.Patches.Count; i++)
        {
            var kept = grid.Patches[i].Kept.Scaled(zoom);
            var (r, g, b) = Colour(clusters.ClusterOf(i));
            bool reference = clusters.IsReference(i);
            for (int y = kept.Y; y < kept.Y + kept.Height; y++)
                for (int x = kept.X; x < kept.X + kept.Width; x++)
                {
                    bool edge = reference && (x - kept.X < Outline || kept.X + kept.Width - 1 - x < Outline
                                              || y - kept.Y < Outline || kept.Y + kept.Height - 1 - y < Outline);
                    for (int c = 0; c < 3; c++)
                    {
                        float tint = c == 0 ? r : c == 1 ? g : b;
                        float v = lr[x / zoom, y / zoom, c] * (1 - TintWeight) + tint * TintWeight;
                        img[x, y, c] = edge ? (byte)255 : (byte)MathF.Round(v);
                    }
                }
        }
        return img;
    }

    /// <summary>A saturated colour per cluster, hues spread by the golden angle so
    /// neighbouring indices differ.</summary>
    static (float R, float G, float B) Colour(int cluster)
    {
        double h = cluster * 0.618033988749895 % 1.0 * 6;
        double f = h - Math.Floor(h);
        (double r, double g, double b) = ((int)h) switch
        {
            0 => (1.0, f, 0.0), 1 => (1 - f, 1.0, 0.0), 2 => (0.0, 1.0, f), 3 => (0.0, 1 - f, 1.0), 4 => (f, 0.0, 1.0), _ => (1.0, 0.0, 1 - f),
        };
        return ((float)(r * 255), (float)(g * 255), (float)(b * 255));
    }
}
