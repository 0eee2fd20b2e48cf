using RefQsr.Engine.Imaging;
using RefQsr.Engine.Tiling;

namespace RefQsr.Engine.Tests.Tiling;

public class PatchMergerTests
{
    [Theory]
    [InlineData(-3.5f, 0)]
    [InlineData(0.5f, 0)]    // half to even
    [InlineData(1.5f, 2)]
    [InlineData(2.5f, 2)]
    [InlineData(254.5f, 254)]
    [InlineData(254.51f, 255)]
    [InlineData(300f, 255)]
    public void ToByteClampsThenRoundsHalfToEven(float value, byte expected)
    {
        Assert.Equal(expected, PatchMerger.ToByte(value));
    }

    [Fact]
    public void ToByteRejectsNaN()
    {
        Assert.Throws<ArgumentException>(() => PatchMerger.ToByte(float.NaN));
    }

    [Theory]
    [InlineData(1, 1, 96, 4)]
    [InlineData(50, 30, 96, 4)]
    [InlineData(100, 97, 96, 4)]
    [InlineData(320, 180, 72, 4)]
    [InlineData(61, 47, 12, 3)]
    [InlineData(23, 19, 7, 2)]
    [InlineData(187, 95, 48, 1)]
    public void EveryHrPixelIsWrittenExactlyOnceFromItsOwnPatch(int width, int height, int patchSize, int scale)
    {
        var grid = PatchGrid.Create(width, height, patchSize);
        // patch i is filled with value i+1 (as floats); writing counts per HR pixel as well
        var hrPatches = grid.Patches
            .Select((p, i) => Enumerable.Repeat((float)(i % 250 + 1), p.Width * scale * p.Height * scale * 3).ToArray())
            .ToList();
        RgbImage merged = PatchMerger.Merge(grid, scale, hrPatches);
        Assert.Equal((width * scale, height * scale), (merged.Width, merged.Height));

        var writes = new int[merged.Width * merged.Height];
        for (int i = 0; i < grid.Patches.Count; i++)
        {
            PixelRect kept = grid.Patches[i].Kept.Scaled(scale);
            for (int y = kept.Y; y < kept.Y + kept.Height; y++)
            {
                for (int x = kept.X; x < kept.X + kept.Width; x++)
                {
                    writes[y * merged.Width + x]++;
                    Assert.Equal(i % 250 + 1, merged[x, y, 0]);
                    Assert.Equal(i % 250 + 1, merged[x, y, 2]);
                }
            }
        }
        Assert.All(writes, count => Assert.Equal(1, count));
    }

    [Fact]
    public void MergeTakesPixelsFromTheRightPlaceInsideThePatch()
    {
        // Each HR patch holds the HR image's own content at its location, so a correct
        // merge reproduces that image exactly, whatever the trims.
        const int scale = 4;
        var grid = PatchGrid.Create(40, 30, 12);
        var truth = new RgbImage(40 * scale, 30 * scale);
        for (int i = 0; i < truth.Pixels.Length; i++)
            truth.Pixels[i] = (byte)(i * 31 % 251);
        var floatPatches = new List<float[]>();
        var bytePatches = new List<RgbImage>();
        foreach (Patch p in grid.Patches)
        {
            RgbImage crop = truth.Crop(p.X * scale, p.Y * scale, p.Width * scale, p.Height * scale);
            bytePatches.Add(crop);
            floatPatches.Add(crop.Pixels.Select(b => b + 0.3f).ToArray());
        }
        Assert.Equal(truth.Pixels, PatchMerger.Merge(grid, scale, floatPatches).Pixels);
        Assert.Equal(truth.Pixels, PatchMerger.Merge(grid, scale, bytePatches).Pixels);
    }

    [Fact]
    public void FullImageMergeCopiesTheWholePatch()
    {
        var grid = PatchGrid.FullImage(5, 3);
        var patch = new float[5 * 2 * 3 * 2 * 3];
        for (int i = 0; i < patch.Length; i++)
            patch[i] = i - 20.4f;
        RgbImage merged = PatchMerger.Merge(grid, 2, [patch]);
        for (int i = 0; i < patch.Length; i++)
            Assert.Equal(PatchMerger.ToByte(patch[i]), merged.Pixels[i]);
    }

    [Fact]
    public void RejectsWrongPatchCountOrSize()
    {
        var grid = PatchGrid.Create(20, 20, 12);
        Assert.Throws<ArgumentException>(() => PatchMerger.Merge(grid, 2, new List<float[]>()));
        var hr = new RgbImage(40, 40);
        Assert.Throws<ArgumentException>(() => PatchMerger.WritePatch(hr, grid.Patches[0], 2, new float[10]));
        Assert.Throws<ArgumentException>(() => PatchMerger.WritePatch(hr, grid.Patches[0], 0, new float[10]));
    }
}
