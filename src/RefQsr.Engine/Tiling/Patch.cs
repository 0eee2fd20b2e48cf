namespace RefQsr.Engine.Tiling;

/// <summary>
/// One LR patch of a <see cref="PatchGrid"/>: its area (X, Y, Width, Height in LR px), its
/// grid position, and <see cref="Kept"/>, the part of it that the merge writes (interior
/// sides trimmed by <see cref="PatchGrid.TrimPixels"/>).
/// </summary>
public sealed record Patch(int Row, int Column, int X, int Y, int Width, int Height, PixelRect Kept)
{
    public PixelRect Area => new(X, Y, Width, Height);
}
