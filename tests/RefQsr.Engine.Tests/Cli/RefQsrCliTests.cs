using System.Text.Json;
using RefQsr.Cli;
using RefQsr.Engine.Diagnostics;
using RefQsr.Engine.Imaging;
using RefQsr.Engine.Weights;

namespace RefQsr.Engine.Tests.Cli;

/// <summary>The CLI with RefQSR models: --clustblock, --clusters, reference ratios.</summary>
public sealed class RefQsrCliTests : CliTestBase
{
    string RefQsrModel() => Write("rq.safetensors", TestModels.RefQsrConfig());
    string ClustModel() => Write("cb.safetensors", TestModels.ClustBlockConfig());

    [Fact]
    public void UpscaleWritesTheClusterMapAtFourTimesTheLrSize()
    {
        string input = Png(40, 30), output = Path.Combine(Dir, "out.png"), map = Path.Combine(Dir, "map.png");
        var (code, stdout, err) = Run("upscale", input, output, "--model", RefQsrModel(), "--clustblock", ClustModel(),
            "--patch", "16", "--clusters", map, "--threads", "2", "--json");
        Assert.True(code == 0, err);
        var m = ImageFiles.Load(map, long.MaxValue);
        Assert.Equal((160, 120), (m.Width, m.Height));
        using var doc = JsonDocument.Parse(stdout);
        double ratio = doc.RootElement.GetProperty("reference_ratio").GetDouble();
        Assert.InRange(ratio, 1.0 / 6, 1.0);
        Assert.Equal(map, doc.RootElement.GetProperty("clusters").GetString());
    }

    [Fact]
    public void ProfileReportsTheTimeOfEveryStageTheScheduleRan()
    {
        string input = Png(40, 30), output = Path.Combine(Dir, "prof.png");
        var (code, stdout, err) = Run("upscale", input, output, "--model", RefQsrModel(), "--clustblock", ClustModel(),
            "--patch", "16", "--threads", "1", "--profile", "--json");
        Assert.True(code == 0, err);
        using var doc = JsonDocument.Parse(stdout);
        var stages = doc.RootElement.GetProperty("stage_seconds").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetDouble());
        // queries exist only if the ClustBlock paired some patches; every other stage always runs
        // the upsampler's second step and the tail are one stage where the kernels fuse them (AVX-512)
        string[] fp32End = stages.ContainsKey(StageTimes.UpsamplerSecondStepAndTail)
            ? [StageTimes.UpsamplerFirstStep, StageTimes.UpsamplerSecondStepAndTail]
            : [StageTimes.Upsampler, StageTimes.Tail];
        foreach (var stage in new[] { "ClustBlock", "head (FP32 9x9)", "quantized body" }.Concat(fp32End))
            Assert.True(stages.TryGetValue(stage, out double s) && s > 0, $"stage '{stage}' missing or zero in {string.Join(", ", stages.Keys)}");
        Assert.Equal(doc.RootElement.GetProperty("references").GetInt32() < doc.RootElement.GetProperty("patches").GetInt32(), stages.ContainsKey("RefER blocks"));
        (code, stdout, _) = Run("upscale", input, output, "--model", RefQsrModel(), "--clustblock", ClustModel(), "--patch", "16", "--profile");
        Assert.Equal(0, code);
        Assert.Contains("time per stage", stdout);
    }

    [Fact]
    public void TauOverridesThePairingThreshold()
    {
        string input = Png(40, 30), model = RefQsrModel(), cb = ClustModel();
        int References(string tau)
        {
            var (code, stdout, err) = Run("upscale", input, Path.Combine(Dir, $"t{tau}.png"), "--model", model, "--clustblock", cb,
                "--patch", "16", "--threads", "1", "--tau", tau, "--json");
            Assert.True(code == 0, err);
            using var doc = JsonDocument.Parse(stdout);
            return doc.RootElement.GetProperty("references").GetInt32();
        }
        // every cosine is > -1 and none is > 1: the loosest threshold pairs the most patches
        int loose = References("-1"), strict = References("1");
        Assert.Equal(6, strict);
        Assert.True(loose < strict, $"tau -1 gave {loose} references, tau 1 gave {strict}");
        var (c, _, e) = Run("upscale", input, Path.Combine(Dir, "bad.png"), "--model", model, "--clustblock", cb, "--tau", "1.5");
        Assert.Equal(2, c);
        Assert.Contains("--tau must be a number in -1..1", e);
    }

    [Fact]
    public void RefQsrModelWithoutAClustBlockIsAClearError()
    {
        string input = Png(20, 20);
        // without --clustblock the shipped clustblock-8bit is used; a missing one is named
        var (code, _, err) = Run("upscale", input, Path.Combine(Dir, "o.png"), "--model", RefQsrModel(), "--clustblock", Path.Combine(Dir, "none.safetensors"));
        Assert.Equal(1, code);
        Assert.Contains("model not found", err);
        Assert.Contains("none.safetensors", err);
        (code, _, err) = Run("upscale", input, Path.Combine(Dir, "o.png"), "--model", RefQsrModel(), "--clustblock", RefQsrModel());
        Assert.Equal(1, code);
        Assert.Contains("not a ClustBlock", err);
    }

    [Fact]
    public void ClustersNeedARefQsrModel()
    {
        string plain = Write("plain.safetensors", TestModels.Config(QuantizerKind.Ddtb, 8, 2));
        var (code, _, err) = Run("upscale", Png(20, 20), Path.Combine(Dir, "o.png"), "--model", plain, "--clusters", Path.Combine(Dir, "m.png"));
        Assert.Equal(2, code);
        Assert.Contains("--clusters needs a RefQSR model", err);
    }

    [Fact]
    public void InfoReportsTheReferenceRatioOfAnImage()
    {
        string m = RefQsrModel(), cb = ClustModel();
        var (code, stdout, err) = Run("info", "--model", m, "--clustblock", cb, "--image", Png(40, 30), "--patch", "16", "--json");
        Assert.True(code == 0, err);
        using var doc = JsonDocument.Parse(stdout);
        Assert.Equal(6, doc.RootElement.GetProperty("patches").GetInt32());
        Assert.InRange(doc.RootElement.GetProperty("reference_ratio").GetDouble(), 1.0 / 6, 1.0);
        Assert.Equal(4, doc.RootElement.GetProperty("refqsr").GetProperty("b_low").GetInt32());
        // the integer conv paths per role: 4 blocks' 8 body convs at w8a8, block 1's 2 query
        // convs at b_medium / b_low (blocks 2 and 3 are RefER blocks for queries), 4 RefER convs
        var paths = doc.RootElement.GetProperty("conv_paths").EnumerateArray()
            .Select(e => (Role: e.GetProperty("role").GetString(), W: e.GetProperty("w_bits").GetInt32(), A: e.GetProperty("a_bits").GetInt32(),
                Path: Enum.Parse<global::RefQsr.Kernels.QuantConvPath>(e.GetProperty("path").GetString()!), N: e.GetProperty("convs").GetInt32())).ToList();
        Assert.Equal(8, paths.Where(p => p.Role == "body" && p.W == 8 && p.A == 8).Sum(p => p.N));
        Assert.Equal(2, paths.Where(p => p.Role == "queries" && p.W == 6 && p.A == 4).Sum(p => p.N));
        Assert.Equal(4, paths.Where(p => p.Role == "RefER" && p.W == 8 && p.A == 8).Sum(p => p.N));
        Assert.Equal(14, paths.Sum(p => p.N));
        (code, stdout, err) = Run("info", "--model", m, "--clustblock", cb, "--lr", "40x30", "--patch", "16");
        Assert.True(code == 0, err);
        Assert.Contains("every patch a reference", stdout);
        Assert.Contains("kernels     body w8a8: ", stdout);
    }

    [Fact]
    public void EvalReportsReferenceRatiosPerImage()
    {
        string data = Directory.CreateDirectory(Path.Combine(Dir, "set")).FullName;
        ImageFiles.SavePng(SyntheticScene.Create(96, 72), Path.Combine(data, "a.png"));
        ImageFiles.SavePng(SyntheticScene.Create(80, 64), Path.Combine(data, "b.png"));
        var (code, stdout, err) = Run("eval", "--data", data, "--model", RefQsrModel(), "--clustblock", ClustModel(), "--patch", "12", "--json");
        Assert.True(code == 0, err);
        using var doc = JsonDocument.Parse(stdout);
        var per = doc.RootElement.GetProperty("per_image").EnumerateArray().Select(e => e.GetProperty("reference_ratio").GetDouble()).ToArray();
        Assert.Equal(2, per.Length);
        Assert.Equal(per.Average(), doc.RootElement.GetProperty("reference_ratio").GetDouble(), 3);
    }
}
