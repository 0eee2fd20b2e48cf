namespace RefQsr.Engine.Tiling;

/// <summary>
/// CADyQ's patch tiling (SPEC §5): patch size p, step p - 6, starts range(0, L - p + 1, p - 6)
/// per axis; the last patch of each row and column stretches to the image border (it is
/// not shifted back), and an axis shorter than p gets one patch covering it.
/// </summary>
public sealed class PatchGrid
{
    public const int DefaultPatchSize = 96;

    /// <summary>Overlap between neighbouring patches, in LR px.</summary>
    public const int Overlap = 6;

    /// <summary>LR px dropped from each interior side at merge (half the overlap).</summary>
    public const int TrimPixels = Overlap / 2;

    public int ImageWidth { get; }
    public int ImageHeight { get; }

    /// <summary>Nominal patch size p; for <see cref="FullImage"/> the larger image side.</summary>
    public int PatchSize { get; }

    public bool IsFullImage { get; }
    public int Rows { get; }
    public int Columns { get; }

    /// <summary>Row-major: index = row * Columns + column.</summary>
    public IReadOnlyList<Patch> Patches { get; }

    /// <summary>Sum of the patch areas in LR px (overlaps counted every time they are computed).</summary>
    public long TotalPatchArea => Patches.Sum(p => p.Area.Area);

    private PatchGrid(int width, int height, int patchSize, bool isFullImage, int[] rowStarts, int[] columnStarts)
    {
        ImageWidth = width;
        ImageHeight = height;
        PatchSize = patchSize;
        IsFullImage = isFullImage;
        Rows = rowStarts.Length;
        Columns = columnStarts.Length;
        var patches = new Patch[Rows * Columns];
        for (int r = 0; r < Rows; r++)
        {
            (int y, int h, int keepY, int keepH) = Span(rowStarts, r, height, patchSize);
            for (int c = 0; c < Columns; c++)
            {
                (int x, int w, int keepX, int keepW) = Span(columnStarts, c, width, patchSize);
                patches[r * Columns + c] = new Patch(r, c, x, y, w, h, new PixelRect(keepX, keepY, keepW, keepH));
            }
        }
        Patches = patches;
    }

    /// <summary>The SPEC §5 grid of an LR image of <paramref name="width"/> x <paramref name="height"/>.</summary>
    public static PatchGrid Create(int width, int height, int patchSize = DefaultPatchSize)
    {
        CheckImageSize(width, height);
        if (patchSize <= Overlap)
            throw new ArgumentException(
                $"Patch size must be larger than the {Overlap}-px overlap, got {patchSize}.", nameof(patchSize));
        return new PatchGrid(width, height, patchSize, isFullImage: false,
            Starts(height, patchSize), Starts(width, patchSize));
    }

    /// <summary>One patch covering the whole image (full-image inference of the baselines).</summary>
    public static PatchGrid FullImage(int width, int height)
    {
        CheckImageSize(width, height);
        return new PatchGrid(width, height, Math.Max(width, height), isFullImage: true, [0], [0]);
    }

    /// <summary>range(0, length - p + 1, p - 6), or [0] when that is empty (length &lt; p).</summary>
    private static int[] Starts(int length, int patchSize)
    {
        int step = patchSize - Overlap;
        var starts = new List<int>();
        for (int s = 0; s < length - patchSize + 1; s += step)
            starts.Add(s);
        if (starts.Count == 0)
            starts.Add(0);
        return starts.ToArray();
    }

    /// <summary>Extent and kept extent of patch <paramref name="i"/> along one axis.</summary>
    private static (int Start, int Length, int KeepStart, int KeepLength) Span(
        int[] starts, int i, int imageLength, int patchSize)
    {
        bool first = i == 0;
        bool last = i == starts.Length - 1;
        int start = starts[i];
        int end = last ? imageLength : start + patchSize; // the last patch stretches to the border
        int keepStart = first ? start : start + TrimPixels;
        int keepEnd = last ? end : end - TrimPixels;
        return (start, end - start, keepStart, keepEnd - keepStart);
    }

    private static void CheckImageSize(int width, int height)
    {
        if (width < 1 || height < 1)
            throw new ArgumentException($"Image size must be positive, got {width}x{height}.");
    }
}
