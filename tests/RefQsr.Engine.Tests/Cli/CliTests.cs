using System.Text.Json;
using RefQsr.Cli;
using RefQsr.Engine.Imaging;
using RefQsr.Engine.Weights;

namespace RefQsr.Engine.Tests.Cli;

/// <summary>The refqsr command in-process: exit codes, one-line errors, JSON output,
/// refusing to overwrite inputs or to decode huge images.</summary>
public sealed class CliTests : CliTestBase
{
    string Model(QuantizerKind q = QuantizerKind.Ddtb, int bits = 8, int blocks = 2)
        => Write($"m-{q}-{bits}-{blocks}.safetensors", TestModels.Config(q, bits, blocks));

    [Fact]
    public void UpscaleWritesA4xPngAndJson()
    {
        string input = Png(40, 30), output = Path.Combine(Dir, "out.png");
        var (code, stdout, err) = Run("upscale", input, output, "--model", Model(), "--patch", "24", "--threads", "2", "--json");
        Assert.True(code == 0, err);
        var hr = ImageFiles.Load(output, long.MaxValue);
        Assert.Equal((160, 120), (hr.Width, hr.Height));
        using var doc = JsonDocument.Parse(stdout);
        Assert.True(doc.RootElement.GetProperty("bitops_g").GetDouble() > 0);
        Assert.Equal(8.0, doc.RootElement.GetProperty("fqr").GetDouble());
        // a warning on stderr exactly when the kernels cannot use the processor's AVX2 (CI's
        // DOTNET_EnableAVX2=0 pass; a NativeAOT build for the default instruction set)
        Assert.Equal(global::RefQsr.Kernels.CpuFeatures.Unused().Contains("AVX2"), err.Contains("refqsr: warning: this processor has", StringComparison.Ordinal));
    }

    [Fact]
    public void UpscaleOutputDoesNotDependOnThreads()
    {
        string input = Png(50, 41), m = Model();
        string o1 = Path.Combine(Dir, "o1.png"), o2 = Path.Combine(Dir, "o2.png");
        Assert.Equal(0, Run("upscale", input, o1, "--model", m, "--patch", "24", "--threads", "1").Code);
        Assert.Equal(0, Run("upscale", input, o2, "--model", m, "--patch", "24", "--threads", "2").Code);
        Assert.Equal(File.ReadAllBytes(o1), File.ReadAllBytes(o2));
    }

    [Fact]
    public void RefusesToOverwriteTheInput()
    {
        string input = Png(20, 20);
        var before = File.ReadAllBytes(input);
        var (code, _, err) = Run("upscale", input, input, "--model", Model());
        Assert.NotEqual(0, code);
        Assert.Contains("refusing to overwrite the input", err);
        Assert.Equal(before, File.ReadAllBytes(input));
    }

    [Fact]
    public void RefusesImagesAboveThePixelLimitBeforeDecoding()
    {
        string input = Png(64, 64);
        var (code, _, err) = Run("upscale", input, Path.Combine(Dir, "o.png"), "--model", Model(), "--max-pixels", "1000");
        Assert.Equal(1, code);
        Assert.Contains("4096 pixels exceeds the limit of 1000", err);
        Assert.Single(err.Trim().Split('\n'));
    }

    [Fact]
    public void TruncatedImageIsAOneLineError()
    {
        string input = Png(64, 64);
        var bytes = File.ReadAllBytes(input);
        File.WriteAllBytes(input, bytes[..(bytes.Length / 2)]);
        var (code, _, err) = Run("upscale", input, Path.Combine(Dir, "o.png"), "--model", Model());
        Assert.Equal(1, code);
        Assert.StartsWith("refqsr: ", err);
        Assert.Single(err.Trim().Split('\n'));
        Assert.DoesNotContain("   at ", err);
    }

    [Fact]
    public void VerbosePrintsTheStackTrace()
    {
        File.WriteAllText(Path.Combine(Dir, "junk.png"), "not an image");
        var (code, _, err) = Run("upscale", Path.Combine(Dir, "junk.png"), Path.Combine(Dir, "o.png"), "--model", Model(), "--verbose");
        Assert.Equal(1, code);
        Assert.Contains("   at ", err);
    }

    [Fact]
    public void CorruptModelIsNamed()
    {
        string m = Path.Combine(Dir, "bad.safetensors");
        File.WriteAllBytes(m, new byte[] { 1, 2, 3 });
        var (code, _, err) = Run("upscale", Png(20, 20), Path.Combine(Dir, "o.png"), "--model", m);
        Assert.Equal(1, code);
        Assert.Contains("invalid model file: bad.safetensors: file is 3 bytes", err);
    }

    [Theory]
    [InlineData("upscale", "a.png")]
    [InlineData("upscale", "a.png", "b.png", "--threads", "0")]
    [InlineData("upscale", "a.png", "b.png", "--bogus")]
    [InlineData("info", "--lr", "12by7")]
    [InlineData("eval")]
    [InlineData("frobnicate")]
    public void BadUsageExitsWithTwo(params string[] args)
    {
        var (code, _, err) = Run(args);
        Assert.Equal(2, code);
        Assert.StartsWith("refqsr: ", err);
    }

    [Fact]
    public void InfoReproducesThePapersBitOps()
    {
        // an 8-bit DDTB SRResNet (16 blocks): 90.15 G with 96-px patches, 81.54 G full image
        string m = Model(QuantizerKind.Ddtb, 8, 16);
        var (code, stdout, err) = Run("info", "--model", m, "--lr", "1024x540", "--patch", "96", "--json");
        Assert.True(code == 0, err);
        using var doc = JsonDocument.Parse(stdout);
        Assert.Equal(90.15, doc.RootElement.GetProperty("bitops_g").GetDouble(), 2);
        Assert.Equal(611376, doc.RootElement.GetProperty("patch_area_lr_px").GetInt64());
        // the instruction sets the kernels chose their paths by, as this process's runtime reports them
        string cpu = doc.RootElement.GetProperty("cpu").GetString()!;
        Assert.Equal(System.Runtime.Intrinsics.X86.Avx2.IsSupported, cpu.Contains("AVX2", StringComparison.Ordinal));
        Assert.Equal(System.Runtime.Intrinsics.X86.Avx512F.IsSupported, cpu.Contains("AVX-512", StringComparison.Ordinal));
        // ... and those the processor has that this process does not use (DOTNET_Enable*, or a NativeAOT build's instruction set)
        Assert.Equal(global::RefQsr.Kernels.CpuFeatures.Unused(), doc.RootElement.GetProperty("cpu_unused").EnumerateArray().Select(e => e.GetString()));
        (code, stdout, _) = Run("info", "--model", m, "--lr", "1024x540", "--full-image", "--json");
        using var full = JsonDocument.Parse(stdout);
        Assert.Equal(81.54, full.RootElement.GetProperty("bitops_g").GetDouble(), 2);
        // the FP32 network scores its FLOPs
        (code, stdout, _) = Run("info", "--model", Model(QuantizerKind.None, 8, 16), "--lr", "320x180", "--patch", "72", "--json");
        using var fp = JsonDocument.Parse(stdout);
        Assert.Equal(148.32, fp.RootElement.GetProperty("bitops_g").GetDouble(), 2);
        Assert.Equal(0, fp.RootElement.GetProperty("conv_paths").GetArrayLength());   // FP32 models run float convs
        // ... listed in forward order with the algorithm each takes here, the 32 body convs as one row
        var floats = fp.RootElement.GetProperty("float_conv_paths").EnumerateArray().ToArray();
        Assert.Equal(["head", "body", "body end", "upsampler 1", "upsampler 2", "tail"], floats.Select(f => f.GetProperty("layer").GetString()));
        Assert.Equal(32, floats[1].GetProperty("convs").GetInt32());
        Assert.Equal([9, 3, 9], new[] { floats[0], floats[1], floats[5] }.Select(f => f.GetProperty("kernel").GetInt32()));
        // both Winograd forms run on AVX-512, on AVX2 with FMA, and wherever Vector128 is
        // hardware (SSE, NEON)
        bool winograd = System.Runtime.Intrinsics.X86.Avx512F.IsSupported
            || (System.Runtime.Intrinsics.X86.Avx2.IsSupported && System.Runtime.Intrinsics.X86.Fma.IsSupported)
            || System.Runtime.Intrinsics.Vector128.IsHardwareAccelerated;
        Assert.Equal(winograd ? "row Winograd F(3,3)" : "direct", floats[5].GetProperty("algorithm").GetString());
        Assert.Equal(winograd ? "Winograd F(4x4,3x3)" : "direct", floats[1].GetProperty("algorithm").GetString());
        Assert.Equal("direct", floats[0].GetProperty("algorithm").GetString());
        using var quantized = JsonDocument.Parse(Run("info", "--model", m, "--json").Out);
        Assert.DoesNotContain(quantized.RootElement.GetProperty("float_conv_paths").EnumerateArray(), f => f.GetProperty("layer").GetString() == "body");
    }

    [Fact]
    public void EvalReportsPsnrAndSsimPerImageAndMean()
    {
        string data = Directory.CreateDirectory(Path.Combine(Dir, "Toy", "HR")).FullName;
        ImageFiles.SavePng(SyntheticScene.Create(50, 42, seed: 1), Path.Combine(data, "a.png"));
        ImageFiles.SavePng(SyntheticScene.Create(37, 29, seed: 2), Path.Combine(data, "b.png"));
        var (code, stdout, err) = Run("eval", "--data", Path.Combine(Dir, "Toy"), "--model", Model(), "--patch", "12", "--json");
        Assert.True(code == 0, err);
        using var doc = JsonDocument.Parse(stdout);
        var r = doc.RootElement;
        Assert.Equal("Toy", r.GetProperty("dataset").GetString());
        Assert.Equal(2, r.GetProperty("images").GetInt32());
        foreach (var f in new[] { "psnr", "ssim", "bitops_g", "fqr", "seconds" }) Assert.True(r.TryGetProperty(f, out _), f);
        var per = r.GetProperty("per_image").EnumerateArray().Select(e => e.GetProperty("psnr").GetDouble()).ToArray();
        Assert.Equal(per.Average(), r.GetProperty("psnr").GetDouble(), 3);
    }

    [Fact]
    public void EvalNamesAnImageItCannotUseBeforeEvaluatingAny()
    {
        // the bad image sorts last: it is named before the first row, not after the others ran
        string data = Directory.CreateDirectory(Path.Combine(Dir, "Bad", "HR")).FullName;
        ImageFiles.SavePng(SyntheticScene.Create(50, 42, seed: 1), Path.Combine(data, "a.png"));
        ImageFiles.SavePng(SyntheticScene.Create(40, 40, seed: 2).Crop(0, 0, 3, 40), Path.Combine(data, "z.png"));
        var (code, stdout, err) = Run("eval", "--data", Path.Combine(Dir, "Bad"), "--model", Model(), "--patch", "12");
        Assert.Equal(1, code);
        Assert.Contains("z.png: 3x40 is smaller than the scale 4", err);
        Assert.DoesNotContain("a.png", stdout);
        // and a truncated one the same way
        var bytes = File.ReadAllBytes(Path.Combine(data, "a.png"));
        File.Delete(Path.Combine(data, "z.png"));
        File.WriteAllBytes(Path.Combine(data, "y.png"), bytes[..(bytes.Length / 2)]);
        (code, stdout, err) = Run("eval", "--data", Path.Combine(Dir, "Bad"), "--model", Model(), "--patch", "12");
        Assert.Equal(1, code);
        Assert.Contains("y.png", err);
        Assert.DoesNotContain("a.png", stdout);
    }

    [Fact]
    public void UpscaleChecksTheOutputFoldersBeforeItWorks()
    {
        string missing = Path.Combine(Dir, "no-such-folder");
        var (code, _, err) = Run("upscale", Png(20, 16), Path.Combine(missing, "out.png"), "--model", Model());
        Assert.Equal(1, code);
        Assert.Equal($"refqsr: output folder does not exist: {missing}", err.Trim());   // one line: nothing was upscaled
    }

    [Fact]
    public void DemoWritesSideBySide()
    {
        string outDir = Path.Combine(Dir, "demo");
        var (code, stdout, err) = Run("demo", "--out", outDir, "--model", Model(), "--size", "64x48");
        Assert.True(code == 0, err);
        Assert.Contains("PSNR", stdout);
        var img = ImageFiles.Load(Path.Combine(outDir, "side-by-side.png"), long.MaxValue);
        Assert.Equal(4 * 64 + 3 * 4, img.Width);
    }
}
