using RefQsr.Engine.Imaging;

namespace RefQsr.Engine.Tests.Imaging;

public class RgbImageTests
{
    [Fact]
    public void NewImageIsBlackAndSized()
    {
        var image = new RgbImage(5, 3);
        Assert.Equal(5 * 3 * 3, image.Pixels.Length);
        Assert.All(image.Pixels, p => Assert.Equal(0, p));
    }

    [Fact]
    public void IndexerIsInterleavedRowMajor()
    {
        var image = new RgbImage(4, 2);
        image[3, 1, 2] = 7;
        Assert.Equal(7, image.Pixels[(1 * 4 + 3) * 3 + 2]);
    }

    [Theory]
    [InlineData(0, 3)]
    [InlineData(3, -1)]
    public void RejectsNonPositiveSize(int width, int height)
    {
        Assert.Throws<ArgumentException>(() => new RgbImage(width, height));
    }

    [Fact]
    public void RejectsWrongPixelCount()
    {
        var ex = Assert.Throws<ArgumentException>(() => new RgbImage(2, 2, new byte[11]));
        Assert.Contains("12 bytes", ex.Message);
    }

    [Fact]
    public void CropCopiesTheRectangle()
    {
        var image = new RgbImage(4, 3);
        for (int i = 0; i < image.Pixels.Length; i++)
            image.Pixels[i] = (byte)i;
        RgbImage crop = image.Crop(1, 1, 2, 2);
        Assert.Equal(image[1, 1, 0], crop[0, 0, 0]);
        Assert.Equal(image[2, 2, 2], crop[1, 1, 2]);
        Assert.Throws<ArgumentException>(() => image.Crop(3, 0, 2, 1));
    }
}
