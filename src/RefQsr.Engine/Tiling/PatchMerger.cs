using RefQsr.Engine.Imaging;

namespace RefQsr.Engine.Tiling;

/// <summary>
/// Merges HR patches into the HR image (SPEC §5): each patch is clamped and rounded to
/// 0..255, and only its <see cref="Patch.Kept"/> region (scaled to HR) is written, so the
/// kept regions tile the HR image exactly once.
/// </summary>
public static class PatchMerger
{
    /// <summary>
    /// Clamp to 0..255, then round half to even (MathF.Round's default): the project rounds
    /// half to even everywhere (SPEC §3) and torch.round in the Python evaluation does too.
    /// </summary>
    public static byte ToByte(float value)
    {
        if (float.IsNaN(value))
            throw new ArgumentException("An HR patch value is NaN.", nameof(value));
        return ClampRound(value);
    }

    static byte ClampRound(float value) => (byte)MathF.Round(Math.Clamp(value, 0f, 255f));

    /// <summary>Merges float HR patches (one per grid patch, in grid order, each HxWx3 interleaved).</summary>
    public static RgbImage Merge(PatchGrid grid, int scale, IReadOnlyList<float[]> hrPatches)
    {
        RgbImage hr = CreateTarget(grid, scale, hrPatches.Count);
        for (int i = 0; i < hrPatches.Count; i++)
            WritePatch(hr, grid.Patches[i], scale, hrPatches[i]);
        return hr;
    }

    /// <summary>Merges already rounded HR patches (one per grid patch, in grid order).</summary>
    public static RgbImage Merge(PatchGrid grid, int scale, IReadOnlyList<RgbImage> hrPatches)
    {
        RgbImage hr = CreateTarget(grid, scale, hrPatches.Count);
        for (int i = 0; i < hrPatches.Count; i++)
        {
            Patch patch = grid.Patches[i];
            CheckPatchSize(patch, scale, hrPatches[i].Width, hrPatches[i].Height);
            WritePatch(hr, patch, scale, hrPatches[i].Pixels);
        }
        return hr;
    }

    /// <summary>Writes the kept region of one float HR patch into <paramref name="hr"/>.</summary>
    public static void WritePatch(RgbImage hr, Patch patch, int scale, ReadOnlySpan<float> hrPatch)
    {
        PixelRect kept = CheckAndLocate(hr, patch, scale, hrPatch.Length);
        int patchRow = patch.Width * scale * RgbImage.Channels;
        int keptRow = kept.Width * RgbImage.Channels;
        int offsetX = kept.X - patch.X * scale;
        int offsetY = kept.Y - patch.Y * scale;
        for (int y = 0; y < kept.Height; y++)
        {
            ReadOnlySpan<float> source = hrPatch.Slice((offsetY + y) * patchRow + offsetX * RgbImage.Channels, keptRow);
            Span<byte> target = hr.Pixels.AsSpan(((kept.Y + y) * hr.Width + kept.X) * RgbImage.Channels, keptRow);
            for (int i = 0; i < keptRow; i++)
            {
                float v = source[i];
                if (float.IsNaN(v)) throw NotFinite(patch);
                target[i] = ClampRound(v);
            }
        }
    }

    /// <summary>NaN out of a network fed bytes means its float arithmetic overflowed: the
    /// model's weights, not the caller's arguments, are at fault.</summary>
    static ModelArithmeticException NotFinite(Patch patch)
        => new($"the network's output for patch ({patch.Row}, {patch.Column}) (LR {patch.Width}x{patch.Height} at {patch.X}, {patch.Y}) " +
               "holds NaN: its float arithmetic overflowed on this input, which points to a corrupt or badly trained model");

    /// <summary>Writes the kept region of one rounded HR patch into <paramref name="hr"/>.</summary>
    public static void WritePatch(RgbImage hr, Patch patch, int scale, ReadOnlySpan<byte> hrPatch)
    {
        PixelRect kept = CheckAndLocate(hr, patch, scale, hrPatch.Length);
        int patchRow = patch.Width * scale * RgbImage.Channels;
        int keptRow = kept.Width * RgbImage.Channels;
        int offsetX = kept.X - patch.X * scale;
        int offsetY = kept.Y - patch.Y * scale;
        for (int y = 0; y < kept.Height; y++)
        {
            hrPatch.Slice((offsetY + y) * patchRow + offsetX * RgbImage.Channels, keptRow)
                .CopyTo(hr.Pixels.AsSpan(((kept.Y + y) * hr.Width + kept.X) * RgbImage.Channels, keptRow));
        }
    }

    private static RgbImage CreateTarget(PatchGrid grid, int scale, int patchCount)
    {
        ArgumentNullException.ThrowIfNull(grid);
        CheckScale(scale);
        if (patchCount != grid.Patches.Count)
            throw new ArgumentException(
                $"The grid has {grid.Patches.Count} patches but {patchCount} HR patches were given.");
        return new RgbImage(grid.ImageWidth * scale, grid.ImageHeight * scale);
    }

    /// <summary>Validates sizes and returns the kept region in HR px.</summary>
    private static PixelRect CheckAndLocate(RgbImage hr, Patch patch, int scale, int patchLength)
    {
        ArgumentNullException.ThrowIfNull(hr);
        ArgumentNullException.ThrowIfNull(patch);
        CheckScale(scale);
        long expected = (long)patch.Width * scale * patch.Height * scale * RgbImage.Channels;
        if (patchLength != expected)
            throw new ArgumentException(
                $"HR patch ({patch.Row}, {patch.Column}) must hold {patch.Width * scale}x{patch.Height * scale}x3 = {expected} values, got {patchLength}.");
        PixelRect kept = patch.Kept.Scaled(scale);
        if (kept.X + kept.Width > hr.Width || kept.Y + kept.Height > hr.Height)
            throw new ArgumentException(
                $"Patch ({patch.Row}, {patch.Column}) at x{scale} reaches past the {hr.Width}x{hr.Height} HR image.", nameof(hr));
        return kept;
    }

    private static void CheckPatchSize(Patch patch, int scale, int width, int height)
    {
        if (width != patch.Width * scale || height != patch.Height * scale)
            throw new ArgumentException(
                $"HR patch ({patch.Row}, {patch.Column}) must be {patch.Width * scale}x{patch.Height * scale}, got {width}x{height}.");
    }

    private static void CheckScale(int scale)
    {
        if (scale < 1)
            throw new ArgumentException($"Scale must be at least 1, got {scale}.", nameof(scale));
    }
}
