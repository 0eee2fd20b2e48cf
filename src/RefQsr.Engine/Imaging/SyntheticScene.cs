namespace RefQsr.Engine.Imaging;

/// <summary>Deterministic test scenes drawn by code (the project never ships third-party
/// images): smooth gradients, a zone plate, oriented stripes, a checkerboard, soft-edged
/// discs and a noise texture — the structures super-resolution is judged on.</summary>
public static class SyntheticScene
{
    public static RgbImage Create(int width, int height, int seed = 7)
    {
        if (width < 8 || height < 8) throw new ArgumentException($"scene size {width}x{height} must be at least 8x8");
        var img = new RgbImage(width, height);
        var rng = new Random(seed);
        var discs = Enumerable.Range(0, 6).Select(_ => (X: rng.NextDouble() * width, Y: rng.NextDouble() * height,
            R: (0.05 + 0.1 * rng.NextDouble()) * Math.Min(width, height), Col: (rng.Next(256), rng.Next(256), rng.Next(256)))).ToArray();
        var noise = new double[width * height];
        for (int i = 0; i < noise.Length; i++) noise[i] = rng.NextDouble();
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
            {
                double u = (double)x / width, v = (double)y / height;
                // background: warm-to-cool gradient
                double r = 200 - 120 * v + 30 * u, g = 150 + 60 * u - 40 * v, b = 90 + 140 * v;
                if (u < 0.33 && v < 0.5)
                {   // zone plate: frequency rising with radius
                    double dx = x - 0.165 * width, dy = y - 0.25 * height;
                    double z = 0.5 + 0.5 * Math.Cos((dx * dx + dy * dy) * 0.012);
                    r = g = b = 30 + 200 * z;
                }
                else if (u > 0.66 && v < 0.5)
                {   // oriented stripes of two periods
                    double s = Math.Sin((x * 0.8 + y * 0.5) * 0.55) + 0.6 * Math.Sin((x * -0.3 + y) * 0.21);
                    r = 120 + 70 * s; g = 100 + 60 * s; b = 60 + 40 * s;
                }
                else if (u > 0.33 && u < 0.66 && v < 0.3)
                {   // checkerboard with 6-px squares
                    bool on = ((x / 6) + (y / 6)) % 2 == 0;
                    r = g = b = on ? 235 : 25;
                }
                else if (v > 0.7)
                {   // fine texture: smoothed noise
                    int i0 = y * width + x, i1 = y * width + Math.Max(0, x - 1), i2 = Math.Max(0, y - 1) * width + x;
                    double t = (noise[i0] + noise[i1] + noise[i2]) / 3;
                    r = 90 + 120 * t; g = 110 + 90 * t; b = 70 + 60 * t;
                }
                foreach (var d in discs)
                {   // anti-aliased edge, 1.5 px wide
                    double dist = Math.Sqrt((x - d.X) * (x - d.X) + (y - d.Y) * (y - d.Y));
                    double a = Math.Clamp((d.R - dist) / 1.5 + 0.5, 0, 1);
                    r = r * (1 - a) + d.Col.Item1 * a; g = g * (1 - a) + d.Col.Item2 * a; b = b * (1 - a) + d.Col.Item3 * a;
                }
                int p = (y * width + x) * 3;
                img.Pixels[p] = (byte)Math.Clamp(Math.Round(r), 0, 255);
                img.Pixels[p + 1] = (byte)Math.Clamp(Math.Round(g), 0, 255);
                img.Pixels[p + 2] = (byte)Math.Clamp(Math.Round(b), 0, 255);
            }
        return img;
    }
}
