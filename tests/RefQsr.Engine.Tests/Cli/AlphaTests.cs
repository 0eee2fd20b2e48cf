using System.Text.Json;
using RefQsr.Cli;
using RefQsr.Engine.Imaging;
using RefQsr.Engine.Weights;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace RefQsr.Engine.Tests.Cli;

/// <summary>A PNG with transparency keeps it: the network upscales the RGB it always saw, the
/// alpha plane is scaled by the MATLAB-style bicubic, and the output is an RGBA PNG. An
/// opaque RGBA file gives the plain RGB output.</summary>
public sealed class AlphaTests : CliTestBase
{
    const int W = 40, H = 30;

    static byte[] Disc(bool transparent)
    {
        var a = new byte[W * H];
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++)
                a[y * W + x] = !transparent ? (byte)255 : (x - 20) * (x - 20) + (y - 15) * (y - 15) < 100 ? (byte)255 : (byte)(4 * x);
        return a;
    }

    string Model()
    {
        string p = Path.Combine(Dir, "m.safetensors");
        File.WriteAllBytes(p, TestModels.Bytes(TestModels.Config(QuantizerKind.Ddtb, 8, blocks: 1)));
        return p;
    }

    [Fact]
    public void TransparentPngKeepsItsAlphaScaledByBicubic()
    {
        var scene = SyntheticScene.Create(W, H);
        var alpha = Disc(transparent: true);
        string rgba = Path.Combine(Dir, "rgba.png"), rgb = Path.Combine(Dir, "rgb.png");
        ImageFiles.SavePng(scene, rgba, alpha);
        ImageFiles.SavePng(scene, rgb);
        Assert.Equal(alpha, ImageFiles.Read(rgba, long.MaxValue).Alpha);

        string m = Model(), outRgba = Path.Combine(Dir, "o-rgba.png"), outRgb = Path.Combine(Dir, "o-rgb.png");
        var (code, stdout, err) = Run("upscale", rgba, outRgba, "--model", m, "--json");
        Assert.True(code == 0, err);
        Assert.Equal("bicubic", JsonDocument.Parse(stdout).RootElement.GetProperty("alpha").GetString());
        Assert.Equal(0, Run("upscale", rgb, outRgb, "--model", m).Code);

        using var got = Image.Load<Rgba32>(outRgba);
        Assert.Equal((4 * W, 4 * H), (got.Width, got.Height));
        var hr = ImageFiles.Read(outRgba, long.MaxValue);
        Assert.Equal(ImageFiles.Load(outRgb, long.MaxValue).Pixels, hr.Rgb.Pixels);   // the network saw the same RGB
        var grey = new RgbImage(W, H, alpha.SelectMany(v => new[] { v, v, v }).ToArray());
        var expected = MatlabBicubic.Resize(grey, 4).Pixels.Where((_, i) => i % 3 == 0).ToArray();
        Assert.Equal(expected, hr.Alpha);
        Assert.Contains(hr.Alpha!, v => v < 255);
    }

    [Fact]
    public void OpaqueAlphaGivesAnRgbPng()
    {
        string p = Path.Combine(Dir, "opaque.png"), o = Path.Combine(Dir, "o.png");
        ImageFiles.SavePng(SyntheticScene.Create(W, H), p, Disc(transparent: false));
        Assert.Null(ImageFiles.Read(p, long.MaxValue).Alpha);
        var (code, _, err) = Run("upscale", p, o, "--model", Model());
        Assert.True(code == 0, err);
        Assert.Equal(24, Image.Identify(o).PixelType.BitsPerPixel);
    }
}
