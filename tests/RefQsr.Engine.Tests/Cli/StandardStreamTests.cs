using RefQsr.Cli;
using RefQsr.Engine.Imaging;
using RefQsr.Engine.Weights;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Gif;
using SixLabors.ImageSharp.Formats.Jpeg;
using SixLabors.ImageSharp.PixelFormats;

namespace RefQsr.Engine.Tests.Cli;

/// <summary>`refqsr upscale - OUT` and `upscale IN -`: an image piped in gets the checks a file
/// gets, and the PNG piped out is the one a file gets.</summary>
public sealed class StandardStreamTests : CliTestBase
{
    (int Code, string Out, string Err, byte[] Png) Piped(byte[] input, params string[] args)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        var png = new MemoryStream();
        int code = Program.Run(["upscale", .. args], o, e, new MemoryStream(input), png);
        return (code, o.ToString(), e.ToString(), png.ToArray());
    }

    byte[] Encoded(Action<Image<Rgb24>, Stream> save)
    {
        var scene = SyntheticScene.Create(40, 30);
        using var img = Image.LoadPixelData<Rgb24>(scene.Pixels, scene.Width, scene.Height);
        var s = new MemoryStream();
        save(img, s);
        return s.ToArray();
    }

    [Fact]
    public void PipedInAndOutGivesTheFilesBytes()
    {
        string model = Write("m.safetensors", TestModels.Config(QuantizerKind.Ddtb, 4, 2));
        byte[] jpeg = Encoded((i, s) => i.SaveAsJpeg(s, new JpegEncoder { Quality = 90 }));
        string input = Path.Combine(Dir, "in.jpg"), output = Path.Combine(Dir, "out.png");
        File.WriteAllBytes(input, jpeg);
        Assert.Equal(0, Run("upscale", input, output, "--model", model, "--patch", "16").Code);

        var (code, stdout, err, png) = Piped(jpeg, "-", "-", "--model", model, "--patch", "16");
        Assert.True(code == 0, err);
        Assert.Equal(File.ReadAllBytes(output), png);
        Assert.Equal("", stdout);   // the image has standard output: the summary goes to stderr
        Assert.Contains("wrote standard output (160x120)", err);

        // piped in, written to a file; the JSON names the input "-"
        string second = Path.Combine(Dir, "second.png");
        (code, stdout, err, png) = Piped(jpeg, "-", second, "--model", model, "--patch", "16", "--json");
        Assert.True(code == 0, err);
        Assert.Equal(File.ReadAllBytes(output), File.ReadAllBytes(second));
        Assert.Empty(png);
        Assert.Contains("\"input\": \"-\"", stdout);
    }

    [Fact]
    public void PipedInputGetsTheChecksAFileGets()
    {
        string model = Write("m.safetensors", TestModels.Config(QuantizerKind.Ddtb, 8, 1));
        byte[] jpeg = Encoded((i, s) => i.SaveAsJpeg(s, new JpegEncoder { Quality = 90 }));
        var cases = new (byte[] Input, string[] Extra, int Code, string Message)[]
        {
            ([], [], 1, "standard input is empty"),
            (jpeg[..(jpeg.Length * 2 / 3)], [], 1, "standard input: image is truncated"),
            ([1, 2, 3, 4, 5, 6, 7, 8, 9], [], 1, "standard input: not a readable image"),
            (Encoded((i, s) => i.SaveAsGif(s, new GifEncoder())), [], 1, "unsupported image type GIF"),
            (jpeg, ["--max-pixels", "100"], 1, "exceeds the limit of 100"),
            (jpeg, ["--json"], 2, "--json writes to standard output"),
        };
        foreach (var (input, extra, expectedCode, message) in cases)
        {
            var (code, _, err, png) = Piped(input, ["-", "-", "--model", model, .. extra]);
            Assert.True(code == expectedCode, $"{message}: exit {code}, {err}");
            Assert.Contains(message, err);
            Assert.Single(err.Trim().Split('\n'));
            Assert.Empty(png);
        }
    }
}
