using RefQsr.Engine.Tiling;

namespace RefQsr.Engine.Tests.Tiling;

public class PatchGridTests
{
    [Fact]
    public void Test4KGridHasStretchedLastRowAndColumn()
    {
        // rows: range(0, 540 - 96 + 1, 90) = 0..360, last stretched to 540 (height 180);
        // columns: range(0, 929, 90) = 0..900, last stretched to 1024 (width 124).
        var grid = PatchGrid.Create(1024, 540, 96);
        Assert.Equal(5, grid.Rows);
        Assert.Equal(11, grid.Columns);
        Assert.Equal(55, grid.Patches.Count);
        Assert.Equal([0, 90, 180, 270, 360], grid.Patches.Where(p => p.Column == 0).Select(p => p.Y));
        Assert.Equal(new PixelRect(900, 360, 124, 180), grid.Patches[^1].Area);
        Assert.Equal(new PixelRect(0, 0, 96, 96), grid.Patches[0].Area);
        Assert.Equal(611_376, grid.TotalPatchArea);
    }

    [Fact]
    public void DefaultPatchSizeIs96()
    {
        Assert.Equal(96, PatchGrid.Create(200, 200).PatchSize);
    }

    [Fact]
    public void ShortAxisGetsOnePatchCoveringIt()
    {
        var grid = PatchGrid.Create(200, 50, 96);
        Assert.Equal(1, grid.Rows);
        Assert.All(grid.Patches, p => Assert.Equal((0, 50), (p.Y, p.Height)));
        Assert.Equal([0, 90], grid.Patches.Select(p => p.X));
        Assert.Equal(200 - 90, grid.Patches[^1].Width);
    }

    [Fact]
    public void AxisSlightlyLongerThanPatchIsOneStretchedPatch()
    {
        var grid = PatchGrid.Create(100, 96, 96);
        Assert.Single(grid.Patches);
        Assert.Equal(new PixelRect(0, 0, 100, 96), grid.Patches[0].Area);
        Assert.Equal(grid.Patches[0].Area, grid.Patches[0].Kept);
    }

    [Fact]
    public void KeptRegionsTrimThreePixelsOnInteriorSidesOnly()
    {
        var grid = PatchGrid.Create(320, 180, 72);
        Patch first = grid.Patches[0];
        Patch inner = grid.Patches.Single(p => p.Row == 0 && p.Column == 1);
        Patch last = grid.Patches[^1];
        Assert.Equal(new PixelRect(0, 0, 69, 69), first.Kept);
        Assert.Equal(new PixelRect(69, 0, 66, 69), inner.Kept);
        Assert.Equal(new PixelRect(201, 69, 320 - 201, 180 - 69), last.Kept);
    }

    [Fact]
    public void FullImageIsOnePatch()
    {
        var grid = PatchGrid.Create(17, 9, 7);
        Assert.True(grid.Patches.Count > 1);
        var full = PatchGrid.FullImage(1024, 540);
        Assert.True(full.IsFullImage);
        Assert.Single(full.Patches);
        Assert.Equal(new PixelRect(0, 0, 1024, 540), full.Patches[0].Area);
        Assert.Equal(552_960, full.TotalPatchArea);
    }

    [Fact]
    public void RejectsBadArguments()
    {
        Assert.Throws<ArgumentException>(() => PatchGrid.Create(0, 10));
        Assert.Throws<ArgumentException>(() => PatchGrid.Create(10, 10, 6));
        Assert.Throws<ArgumentException>(() => PatchGrid.FullImage(10, -1));
    }

    public static TheoryData<int, int, int> Geometries()
    {
        var data = new TheoryData<int, int, int>();
        int[] patchSizes = [7, 8, 12, 48, 72, 96];
        int[] lengths = [1, 5, 6, 7, 11, 13, 47, 71, 72, 73, 95, 96, 97, 138, 139, 180, 270, 301];
        foreach (int p in patchSizes)
        {
            foreach (int w in lengths)
                data.Add(w, lengths[(w * 7 + p) % lengths.Length], p);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Geometries))]
    public void PatchesFollowTheRangeRuleAndKeptRegionsTileTheImage(int width, int height, int patchSize)
    {
        var grid = PatchGrid.Create(width, height, patchSize);
        int step = patchSize - 6;
        int[] expectedRows = height < patchSize ? [0] : Enumerable.Range(0, height - patchSize + 1).Where(s => s % step == 0).ToArray();
        Assert.Equal(expectedRows, grid.Patches.Where(p => p.Column == 0).Select(p => p.Y));

        var coverage = new int[width * height];
        foreach (Patch patch in grid.Patches)
        {
            Assert.True(patch.X + patch.Width <= width && patch.Y + patch.Height <= height);
            bool lastColumn = patch.Column == grid.Columns - 1;
            bool lastRow = patch.Row == grid.Rows - 1;
            Assert.Equal(lastColumn ? width - patch.X : patchSize, patch.Width);
            Assert.Equal(lastRow ? height - patch.Y : patchSize, patch.Height);
            for (int y = patch.Kept.Y; y < patch.Kept.Y + patch.Kept.Height; y++)
            {
                for (int x = patch.Kept.X; x < patch.Kept.X + patch.Kept.Width; x++)
                    coverage[y * width + x]++;
            }
        }
        Assert.All(coverage, count => Assert.Equal(1, count));
    }
}
