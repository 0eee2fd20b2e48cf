using System.Text.Json;
using RefQsr.Cli;
using RefQsr.Engine.Diagnostics;
using RefQsr.Engine.Networks;
using RefQsr.Engine.RefQsr;
using RefQsr.Kernels;
using Xunit.Abstractions;

namespace RefQsr.Engine.Tests.Parity;

/// <summary>The RefQSR schedule against the trainer's integer simulation on the
/// tests/fixtures/tiny-refqsr-* folders (train/make_fixtures.py --tiny-refqsr): ClustBlock
/// logits, the chosen references, and one query patch through qlow blocks and RefER
/// (codes, cost-volume argmax, flow, HR). Same acceptance as <see cref="ParityTests"/>.</summary>
public class RefQsrParityTests(ITestOutputHelper output)
{
    public static TheoryData<string> Fixtures()
    {
        var d = new TheoryData<string>();
        foreach (var n in FixtureFolders.Names().Where(n => n.StartsWith("tiny-refqsr", StringComparison.Ordinal))) d.Add(n);
        return d;
    }

    [Fact]
    public void RefQsrFixturesArePresent() => Assert.NotEmpty(Fixtures());

    sealed record Setup(ParityFixture Fx, JsonElement Manifest, SrResNet Net, ClustBlock Clust, int H, int W, float[] Image, int[][] Patches);

    static Setup Load(string name)
    {
        var fx = FixtureFolders.Load(name);
        var manifest = JsonDocument.Parse(File.ReadAllText(Path.Combine(fx.Folder, "manifest.json"))).RootElement;
        var net = SrResNet.Load(fx.ModelPath());
        var clust = ClustBlock.Load(Path.Combine(fx.Folder, manifest.GetProperty("clustblock_model").GetString()!));
        var s = fx.Shape("input");
        var img = fx.Bytes("input").Select(b => (float)b).ToArray();
        var patches = manifest.GetProperty("patches").EnumerateArray().Select(p => p.EnumerateArray().Select(v => v.GetInt32()).ToArray()).ToArray();
        return new Setup(fx, manifest, net, clust, s[0], s[1], img, patches);
    }

    static float[] Crop(Setup s, int[] p)
    {
        int y0 = p[0], y1 = p[1], x0 = p[2], x1 = p[3], w = x1 - x0;
        var r = new float[(y1 - y0) * w * 3];
        for (int y = y0; y < y1; y++)
            Array.Copy(s.Image, (y * s.W + x0) * 3, r, (y - y0) * w * 3, w * 3);
        return r;
    }

    [Theory]
    [MemberData(nameof(Fixtures))]
    public void ClustBlockLogitsAndReferencesMatch(string name)
    {
        var s = Load(name);
        var expected = s.Fx.Floats("logits");
        int classes = s.Fx.Shape("logits")[1];
        var logits = s.Patches.Select(p => s.Clust.Logits(Crop(s, p), p[1] - p[0], p[3] - p[2])).ToList();
        for (int i = 0; i < logits.Count; i++)
            for (int c = 0; c < classes; c++)
            {
                float e = expected[i * classes + c];
                Assert.True(Math.Abs(logits[i][c] - e) <= 1e-4f * (1 + Math.Abs(e)), $"patch {i} class {c}: {logits[i][c]} vs {e}");
            }
        var refs = s.Fx.Bytes("ref");
        var expectedRefs = Enumerable.Range(0, s.Patches.Length).Select(i => BitConverter.ToInt32(refs, 4 * i)).ToArray();
        double tau = s.Manifest.GetProperty("config").GetProperty("refqsr").GetProperty("tau").GetDouble();
        var assignment = PatchClustering.Assign(logits, tau);
        Assert.Equal(expectedRefs, assignment.ReferenceOf.ToArray());
    }

    [Theory]
    [MemberData(nameof(Fixtures))]
    public void QueryPathThroughRefErMatches(string name)
    {
        var s = Load(name);
        int qi = s.Manifest.GetProperty("query").GetInt32(), ri = s.Manifest.GetProperty("query_reference").GetInt32();
        int[] qp = s.Patches[qi], rp = s.Patches[ri];
        int qh = qp[1] - qp[0], qw = qp[3] - qp[2];
        var (_, features) = s.Net.ForwardReference(Crop(s, rp), rp[1] - rp[0], rp[3] - rp[2], 1);
        var trace = new ForwardTrace();
        var hr = s.Net.ForwardQuery(Crop(s, qp), qh, qw, features, 1, trace);

        foreach (var codeName in new[] { "body.1.qlow1", "refer.2.q1" })
        {
            var shape = s.Fx.Shape($"query_codes_{codeName}");
            var expected = ParityFixture.ChwToHwc(s.Fx.Bytes($"query_codes_{codeName}"), shape[1], shape[2], shape[3]);
            var actual = trace.Codes[codeName];
            int same = expected.Zip(actual).Count(p => p.First == p.Second);
            output.WriteLine($"{name} query {codeName}: {same}/{expected.Length} codes identical");
            Assert.True(same >= 0.999 * expected.Length, $"{codeName}: {same}/{expected.Length} codes identical");
        }

        var hs = s.Fx.Shape("query_hr");
        var reference = ParityFixture.ChwToHwc(s.Fx.Floats("query_hr"), hs[1], hs[2], hs[3]);
        var (maxAbs, psnr) = ParityCheck.CompareHr(hr, reference);
        output.WriteLine($"{name} query HR: max |diff| {maxAbs:G4}, PSNR {psnr:F1} dB");
        Assert.True(maxAbs <= 0.5, $"query HR max |diff| {maxAbs}");
        Assert.True(psnr >= 60, $"query HR PSNR {psnr:F1} dB");
    }
}
