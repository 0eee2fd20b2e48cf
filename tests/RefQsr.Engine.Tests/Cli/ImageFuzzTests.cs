using RefQsr.Cli;
using RefQsr.Engine.Imaging;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats;
using SixLabors.ImageSharp.Formats.Bmp;
using SixLabors.ImageSharp.Formats.Jpeg;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.PixelFormats;

namespace RefQsr.Engine.Tests.Cli;

/// <summary>The project's own encoded scenes (PNG, palette and interlaced PNG, PNG with colour chunks, JPEG, BMP)
/// mutated at random (seeded): reading each gives an image or a <see cref="CliException"/>
/// (a one-line error, exit code 1), never another exception; and a file cut short is never
/// read as a whole image.</summary>
public sealed class ImageFuzzTests : IDisposable
{
    readonly string dir = Directory.CreateTempSubdirectory("refqsr-imgfuzz-").FullName;

    public void Dispose() => Directory.Delete(dir, true);

    static List<(string Ext, byte[] Bytes)> Seeds()
    {
        var scene = SyntheticScene.Create(40, 30);
        using var img = Image.LoadPixelData<Rgb24>(scene.Pixels, scene.Width, scene.Height);
        var seeds = new List<(string, byte[])>();
        foreach (var (ext, encoder) in new (string, IImageEncoder)[]
                 {
                     (".png", new PngEncoder()), (".png", new PngEncoder { ColorType = PngColorType.Palette }),
                     (".png", new PngEncoder { InterlaceMethod = PngInterlaceMode.Adam7 }), (".jpg", new JpegEncoder()),
                     (".bmp", new BmpEncoder { BitsPerPixel = BmpBitsPerPixel.Pixel24 }),
                 })
        {
            var ms = new MemoryStream();
            img.Save(ms, encoder);
            seeds.Add((ext, ms.ToArray()));
        }
        // a PNG whose first 200 bytes are mostly colour chunks (cHRM, gAMA, iCCP), where the
        // mutations below aim: their lengths, CRCs and the zlib stream get hit
        var colour = new MemoryStream();
        var profile = Enumerable.Range(0, 132).Select(i => (byte)i).ToArray();
        ImageFiles.WritePng(scene, colour, colour: new ColourInfo(profile, 0, 45455, new byte[32]));
        seeds.Add((".png", colour.ToArray()));
        return seeds;
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void MutatedImagesFailOnlyWithOneLineErrors(int seed)
    {
        var rng = new Random(seed);
        var seeds = Seeds();
        for (int it = 0; it < 400; it++)
        {
            var (ext, original) = seeds[rng.Next(seeds.Count)];
            var b = (byte[])original.Clone();
            int mode = rng.Next(4);
            if (mode == 0) for (int k = 1 + rng.Next(8); k > 0; k--) b[rng.Next(b.Length)] = (byte)rng.Next(256);
            else if (mode == 1) for (int k = 1 + rng.Next(3); k > 0; k--) b[rng.Next(Math.Min(b.Length, 200))] = (byte)rng.Next(256);
            else if (mode == 2) b = b[..rng.Next(b.Length - 12)];   // short of PNG's empty IEND chunk too
            else { int at = rng.Next(100); byte[] v = [0xff, 0x7f, 0x80, 0, 1]; for (int k = 0; k < 3; k++) b[at + k] = v[rng.Next(v.Length)]; }
            string path = Path.Combine(dir, "case" + ext);
            File.WriteAllBytes(path, b);
            try
            {
                ImageFiles.Read(path, 1_000_000);
                Assert.True(mode != 2, $"seed {seed}, case {it}: a {ext} cut to {b.Length} of {original.Length} bytes was read as a whole image");
            }
            catch (CliException e) when (e.ExitCode == 1) { }
            catch (Exception e) when (e is not Xunit.Sdk.XunitException)
            {
                Assert.Fail($"seed {seed}, case {it} ({ext}, mutation {mode}): {e.GetType().Name}: {e.Message}");
            }
        }
    }
}
