namespace RefQsr.Engine.Tiling;

/// <summary>An axis-aligned pixel rectangle: columns X..X+Width-1, rows Y..Y+Height-1.</summary>
public readonly record struct PixelRect(int X, int Y, int Width, int Height)
{
    public long Area => (long)Width * Height;

    public PixelRect Scaled(int factor) => new(X * factor, Y * factor, Width * factor, Height * factor);
}
