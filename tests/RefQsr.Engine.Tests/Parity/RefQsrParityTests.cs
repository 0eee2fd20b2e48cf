using RefQsr.Engine.Diagnostics;
using RefQsr.Engine.Networks;
using Xunit.Abstractions;

namespace RefQsr.Engine.Tests.Parity;

/// <summary>The RefQSR schedule against the trainer's integer simulation on the
/// tests/fixtures/tiny-refqsr-* folders (train/make_fixtures.py --tiny-refqsr): ClustBlock
/// logits, the chosen references, and one query patch through qlow blocks and RefER
/// (codes, HR), through <see cref="RefQsrParityCheck"/> as `refqsr parity` runs it. Same
/// acceptance as <see cref="ParityTests"/>.</summary>
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

    static RefQsrParityCheck.Result Check(string name)
    {
        var fx = FixtureFolders.Load(name);
        Assert.True(fx.IsRefQsr);
        var (input, h, w) = fx.Input();
        var (clustBlock, patches, expected) = fx.RefQsr();
        var result = RefQsrParityCheck.Run(SrResNet.Load(fx.ModelPath()), ClustBlock.Load(clustBlock), input, h, w, patches, expected);
        Assert.Equal(patches.Count, result.Patches);
        Assert.Equal(expected.QueryCodes.Count, result.QueryLayers.Count);
        Assert.Equal(2, result.QueryMatchings.Count);   // both RefER blocks' argmax and flow
        return result;
    }

    [Theory]
    [MemberData(nameof(Fixtures))]
    public void ClustBlockLogitsAndReferencesMatch(string name)
    {
        var r = Check(name);
        output.WriteLine($"{name}: logits max relative error {r.LogitsMaxRelError:G3}, references [{string.Join(", ", r.References)}]");
        Assert.True(r.LogitsPass, $"logits max relative error {r.LogitsMaxRelError}");
        Assert.True(r.ReferencesMatch, $"references [{string.Join(", ", r.References)}] differ from the fixture's");
    }

    [Theory]
    [MemberData(nameof(Fixtures))]
    public void QueryPathThroughRefErMatches(string name)
    {
        var r = Check(name);
        ParityAsserts.Layers(output, $"{name} query", r.QueryLayers);
        foreach (var m in r.QueryMatchings)
        {
            output.WriteLine($"{name} query {m.Name}: argmax {m.Identical}/{m.Total} identical, flow max |diff| {m.FlowMaxAbs:G3} px");
            Assert.True(m.Passes, $"{m.Name}: argmax {m.Identical}/{m.Total}, flow {m.FlowMaxAbs}");
        }
        ParityAsserts.Hr(output, $"{name} query HR", r.QueryHrMaxAbs, r.QueryHrPsnr);
        Assert.True(r.Passes);
    }
}
