using RefQsr.Engine.Networks;
using Xunit.Abstractions;

namespace RefQsr.Engine.Tests.Parity;

/// <summary>The engine against the trainer's integer simulation (train/refqsr_train/intsim.py)
/// on every fixture in tests/fixtures. Acceptance (trainer issue): integer codes identical
/// at ≥ 99.9% of positions at every traced layer; HR output within 0.5 grey levels
/// (0.5/255 of full scale) in max-abs and ≥ 60 dB PSNR against the reference.</summary>
public class ParityTests(ITestOutputHelper output)
{
    public static TheoryData<string> Fixtures()
    {
        var d = new TheoryData<string>();
        foreach (var n in ParityFixture.Names()) d.Add(n);
        return d;
    }

    [Fact]
    public void FixturesArePresent()
        => Assert.Contains(ParityFixture.Names(), n => n.Contains("ddtb", StringComparison.Ordinal));

    [Theory]
    [MemberData(nameof(Fixtures))]
    public void EngineMatchesTheReference(string name)
    {
        var fx = ParityFixture.Load(name);
        var net = SrResNet.Load(fx.ModelPath);
        var inShape = fx.Shape("input");
        int h = inShape[0], w = inShape[1];
        var lr = fx.Bytes("input").Select(b => (float)b).ToArray();
        var trace = new ForwardTrace();
        var hr = net.Forward(lr, h, w, 2, trace);

        foreach (var codeName in fx.CodeNames)
        {
            int q = int.Parse(codeName["codes_q".Length..]);
            string traced = $"body.{q / 2}.q{q % 2 + 1}";
            var s = fx.Shape(codeName);
            var expected = ParityFixture.ChwToHwc(fx.Bytes(codeName), s[1], s[2], s[3]);
            var actual = trace.Codes[traced];
            int same = expected.Zip(actual).Count(p => p.First == p.Second);
            output.WriteLine($"{name} {traced}: {same}/{expected.Length} codes identical");
            Assert.True(same >= 0.999 * expected.Length, $"{name} {traced}: {same}/{expected.Length} codes identical");
        }

        var hs = fx.Shape("hr");
        var reference = ParityFixture.ChwToHwc(fx.Floats("hr"), hs[1], hs[2], hs[3]);
        Assert.Equal(reference.Length, hr.Length);
        var (maxAbs, psnr) = ParityFixture.CompareHr(hr, reference);
        output.WriteLine($"{name} HR: max |diff| {maxAbs:G4}, PSNR {psnr:F1} dB");
        Assert.True(maxAbs <= 0.5, $"{name}: max |diff| {maxAbs:G4} grey levels");
        Assert.True(psnr >= 60, $"{name}: PSNR against the reference {psnr:F1} dB");
    }
}
