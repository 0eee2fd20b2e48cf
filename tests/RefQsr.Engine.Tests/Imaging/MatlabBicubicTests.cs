using RefQsr.Engine.Imaging;

namespace RefQsr.Engine.Tests.Imaging;

public class MatlabBicubicTests
{
    /// <summary>
    /// Written by train/tools/make_bicubic_fixture.py with the Python reference
    /// (train/refqsr_train/imresize.py): source, its x1/4 and x1/3 LR, and the x1/4 LR upscaled x4.
    /// </summary>
    private static readonly string FixturePath =
        Path.Combine(AppContext.BaseDirectory, "fixtures", "bicubic", "synthetic_61x47.bin");

    private static (RgbImage Source, RgbImage Lr4, RgbImage Lr3, RgbImage Up4) ReadFixture()
    {
        using var reader = new BinaryReader(File.OpenRead(FixturePath));
        RgbImage Next()
        {
            int width = reader.ReadInt32();
            int height = reader.ReadInt32();
            return new RgbImage(width, height, reader.ReadBytes(width * height * 3));
        }
        var result = (Next(), Next(), Next(), Next());
        Assert.Equal(reader.BaseStream.Length, reader.BaseStream.Position);
        return result;
    }

    [Fact]
    public void DownscaleByFourMatchesPythonReferenceByteForByte()
    {
        var (source, lr4, _, _) = ReadFixture();
        RgbImage actual = MatlabBicubic.Downscale(source, 4);
        Assert.Equal((15, 11), (actual.Width, actual.Height));
        Assert.Equal(lr4.Pixels, actual.Pixels);
    }

    [Fact]
    public void DownscaleByThreeMatchesPythonReferenceByteForByte()
    {
        var (source, _, lr3, _) = ReadFixture();
        RgbImage actual = MatlabBicubic.Downscale(source, 3);
        Assert.Equal((20, 15), (actual.Width, actual.Height));
        Assert.Equal(lr3.Pixels, actual.Pixels);
    }

    [Fact]
    public void UpscaleByFourMatchesPythonReferenceByteForByte()
    {
        var (_, lr4, _, up4) = ReadFixture();
        RgbImage actual = MatlabBicubic.Resize(lr4, 4.0);
        Assert.Equal((60, 44), (actual.Width, actual.Height));
        Assert.Equal(up4.Pixels, actual.Pixels);
    }

    [Fact]
    public void UpscaleToDoublesRoundsToTheByteResult()
    {
        var (_, lr4, _, up4) = ReadFixture();
        double[] values = MatlabBicubic.UpscaleToDoubles(lr4, 4);
        Assert.Equal(up4.Pixels.Length, values.Length);
        // the fixture has overshoot past 0 and 255, so the clamp is exercised
        Assert.Contains(values, v => v < 0);
        Assert.Contains(values, v => v > 255);
        for (int i = 0; i < values.Length; i++)
            Assert.Equal(up4.Pixels[i], (byte)Math.Floor(Math.Clamp(values[i], 0, 255) + 0.5));
    }

    [Theory]
    [InlineData(0.25)]
    [InlineData(1.0 / 3)]
    [InlineData(0.5)]
    [InlineData(2.0)]
    [InlineData(4.0)]
    [InlineData(0.7)]
    public void ConstantImageStaysConstant(double scale)
    {
        var image = new RgbImage(23, 17);
        for (int i = 0; i < image.Pixels.Length; i += 3)
        {
            image.Pixels[i] = 200;
            image.Pixels[i + 1] = 13;
            image.Pixels[i + 2] = 255;
        }
        RgbImage resized = MatlabBicubic.Resize(image, scale);
        for (int i = 0; i < resized.Pixels.Length; i += 3)
        {
            Assert.Equal(200, resized.Pixels[i]);
            Assert.Equal(13, resized.Pixels[i + 1]);
            Assert.Equal(255, resized.Pixels[i + 2]);
        }
    }

    [Theory]
    [InlineData(61, 47, 0.25, 16, 12)]
    [InlineData(60, 44, 0.25, 15, 11)]
    [InlineData(10, 7, 4.0, 40, 28)]
    [InlineData(10, 7, 0.5, 5, 4)]
    [InlineData(5, 3, 0.3, 2, 1)]
    public void OutputSizeIsCeilOfScaledSize(int width, int height, double scale, int outWidth, int outHeight)
    {
        RgbImage resized = MatlabBicubic.Resize(new RgbImage(width, height), scale);
        Assert.Equal((outWidth, outHeight), (resized.Width, resized.Height));
    }

    [Fact]
    public void DownscaleCropsToMultipleOfFactor()
    {
        RgbImage lr = MatlabBicubic.Downscale(new RgbImage(4097, 2163), 4);
        Assert.Equal((1024, 540), (lr.Width, lr.Height));
    }

    [Fact]
    public void SymmetricBoundaryMirrorsWithEdgeRepeated()
    {
        // A 1-pixel-high image: vertical taps all mirror onto row 0, so any row of the
        // result equals a width-only resize; a mirrored (edge-repeated) ramp stays
        // symmetric: resizing the ramp and its reverse gives reversed outputs.
        var ramp = new RgbImage(8, 1);
        var reversed = new RgbImage(8, 1);
        for (int x = 0; x < 8; x++)
        {
            for (int c = 0; c < 3; c++)
            {
                ramp[x, 0, c] = (byte)(x * 30 + c);
                reversed[7 - x, 0, c] = (byte)(x * 30 + c);
            }
        }
        double[] a = MatlabBicubic.ResizeToDoubles(ramp, 0.5);
        double[] b = MatlabBicubic.ResizeToDoubles(reversed, 0.5);
        Assert.Equal(4 * 3, a.Length);
        for (int x = 0; x < 4; x++)
        {
            for (int c = 0; c < 3; c++)
                Assert.Equal(a[x * 3 + c], b[(3 - x) * 3 + c], 9);
        }
    }

    [Fact]
    public void SymmetricBoundaryUsesMirroredPixelsAtTheEdge()
    {
        // x1/2 of a row [0, 0, 255, 255, ...]: output 0 is centred at 1-based 1.5 and its
        // taps reach zero-based -3, which symmetric padding maps to pixel 2 (255); replicate
        // padding would map it to pixel 0 (0) and give a different value.
        byte[] row = [0, 0, 255, 255, 255, 255, 255, 255];
        var image = new RgbImage(row.Length, 1);
        for (int x = 0; x < row.Length; x++)
        {
            for (int c = 0; c < 3; c++)
                image[x, 0, c] = row[x];
        }
        double first = MatlabBicubic.ResizeToDoubles(image, 0.5)[0];
        Assert.Equal(HandComputedFirstOutputOfHalfResize(row, mirror: true), first, 12);
        Assert.NotEqual(HandComputedFirstOutputOfHalfResize(row, mirror: false), first, 6);
    }

    /// <summary>Output 0 of a x1/2 resize computed directly from the antialiased Keys kernel.</summary>
    private static double HandComputedFirstOutputOfHalfResize(byte[] row, bool mirror)
    {
        static double Cubic(double x)
        {
            x = Math.Abs(x);
            return x <= 1 ? 1.5 * x * x * x - 2.5 * x * x + 1
                : x <= 2 ? -0.5 * x * x * x + 2.5 * x * x - 4 * x + 2 : 0;
        }
        double sum = 0, total = 0;
        for (int j = -3; j <= 6; j++) // 1-based taps around the centre 1.5
        {
            double w = 0.5 * Cubic(0.5 * (1.5 - j));
            total += w;
            int zeroBased = j - 1;
            int source = zeroBased >= 0 ? zeroBased : mirror ? -zeroBased - 1 : 0;
            sum += w * row[source];
        }
        return sum / total;
    }

    [Fact]
    public void RejectsBadArguments()
    {
        var image = new RgbImage(8, 8);
        Assert.Throws<ArgumentException>(() => MatlabBicubic.Resize(image, 0));
        Assert.Throws<ArgumentException>(() => MatlabBicubic.Resize(image, double.NaN));
        Assert.Throws<ArgumentException>(() => MatlabBicubic.Downscale(image, 0));
        Assert.Throws<ArgumentException>(() => MatlabBicubic.Downscale(new RgbImage(3, 8), 4));
    }

    [Theory]
    [InlineData(37, 23, 4.0)]
    [InlineData(50, 41, 0.25)]
    [InlineData(9, 14, 1.0 / 3)]
    [InlineData(1, 5, 4.0)]
    public void ResizePlaneGivesEachChannelsBytes(int width, int height, double scale)
    {
        // three different planes in one RGB image: each must come out as Resize makes it
        var rng = new Random(width * 31 + height);
        var planes = Enumerable.Range(0, 3).Select(_ => Enumerable.Range(0, width * height).Select(i => (byte)(i % 7 == 0 ? rng.Next(256) : (i * 13) % 256)).ToArray()).ToArray();
        var rgb = new byte[width * height * 3];
        for (int i = 0; i < width * height; i++)
            for (int c = 0; c < 3; c++) rgb[3 * i + c] = planes[c][i];
        var whole = MatlabBicubic.Resize(new RgbImage(width, height, rgb), scale);
        for (int c = 0; c < 3; c++)
            Assert.Equal(whole.Pixels.Where((_, i) => i % 3 == c).ToArray(), MatlabBicubic.ResizePlane(planes[c], width, height, scale));
        Assert.Throws<ArgumentException>(() => MatlabBicubic.ResizePlane(planes[0], width + 1, height, scale));
    }
}
