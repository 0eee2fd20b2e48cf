using System.Text.Json;
using RefQsr.Cli;
using RefQsr.Engine.Imaging;
using RefQsr.Engine.Weights;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace RefQsr.Engine.Tests.Cli;

/// <summary>refqsr upscale IN OUT with IN a folder: every image in it, one model load, the
/// same bytes as one file at a time; a bad image is named and skipped, not fatal.</summary>
public sealed class FolderUpscaleTests : CliTestBase
{
    string In => Path.Combine(Dir, "in");
    string Out => Path.Combine(Dir, "out");

    string Model()
    {
        string p = Path.Combine(Dir, "m.safetensors");
        File.WriteAllBytes(p, TestModels.Bytes(TestModels.Config(QuantizerKind.Ddtb, 4, blocks: 1)));
        return p;
    }

    void Images()
    {
        Directory.CreateDirectory(In);
        ImageFiles.SavePng(SyntheticScene.Create(30, 20, seed: 1), Path.Combine(In, "a.png"));
        var b = SyntheticScene.Create(26, 34, seed: 2);
        using (var img = Image.LoadPixelData<Rgb24>(b.Pixels, b.Width, b.Height)) img.SaveAsJpeg(Path.Combine(In, "b.jpg"));
        File.WriteAllText(Path.Combine(In, "notes.txt"), "not an image");
        Directory.CreateDirectory(Path.Combine(In, "sub"));
        ImageFiles.SavePng(SyntheticScene.Create(20, 20), Path.Combine(In, "sub", "c.png"));
    }

    [Fact]
    public void EveryImageGivesTheBytesOfItsOwnRun()
    {
        Images();
        string m = Model();
        var (code, stdout, err) = Run("upscale", In, Out, "--model", m, "--patch", "16");
        Assert.True(code == 0, err);
        Assert.Equal(new[] { "a.png", "b.png" }, Directory.GetFiles(Out).Select(f => Path.GetFileName(f)).Order().ToArray());
        Assert.Equal(2, stdout.Split('\n').Count(l => l.StartsWith("wrote ")));
        foreach (var name in new[] { "a.png", "b.jpg" })
        {
            string single = Path.Combine(Dir, "single.png");
            Assert.Equal(0, Run("upscale", Path.Combine(In, name), single, "--model", m, "--patch", "16").Code);
            Assert.Equal(File.ReadAllBytes(single), File.ReadAllBytes(Path.Combine(Out, Path.ChangeExtension(name, ".png"))));
        }
    }

    [Fact]
    public void ABadImageIsSkippedAndNamed()
    {
        Images();
        var bytes = File.ReadAllBytes(Path.Combine(In, "a.png"));
        File.WriteAllBytes(Path.Combine(In, "broken.png"), bytes[..(bytes.Length / 2)]);
        var (code, stdout, err) = Run("upscale", In, Out, "--model", Model(), "--json");
        Assert.Equal(1, code);
        Assert.Contains("broken.png skipped:", err);
        Assert.Contains("1 of 3 images failed", err);
        using var doc = JsonDocument.Parse(stdout);
        Assert.Equal(2, doc.RootElement.GetProperty("images").GetArrayLength());
        Assert.EndsWith("broken.png", doc.RootElement.GetProperty("failed")[0].GetProperty("input").GetString());
        Assert.True(File.Exists(Path.Combine(Out, "a.png")) && File.Exists(Path.Combine(Out, "b.png")));
        Assert.False(File.Exists(Path.Combine(Out, "broken.png")));
    }

    [Fact]
    public void RefusesWhatWouldOverwriteOrCollide()
    {
        Images();
        string m = Model();
        var before = File.ReadAllBytes(Path.Combine(In, "a.png"));
        var (code, _, err) = Run("upscale", In, In, "--model", m);
        Assert.Equal(2, code);
        Assert.Contains("refusing to write into the input folder", err);
        Assert.Equal(before, File.ReadAllBytes(Path.Combine(In, "a.png")));

        ImageFiles.SavePng(SyntheticScene.Create(20, 20), Path.Combine(In, "b.png"));   // b.jpg and b.png -> out/b.png
        (code, _, err) = Run("upscale", In, Out, "--model", m);
        Assert.Equal(2, code);
        Assert.Contains("would both be written to", err);
        Assert.False(Directory.Exists(Out));

        (code, _, err) = Run("upscale", In, Out, "--model", m, "--clusters", Path.Combine(Dir, "map.png"));
        Assert.Equal(2, code);
    }
}
