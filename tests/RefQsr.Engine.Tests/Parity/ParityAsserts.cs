using RefQsr.Engine.Diagnostics;
using Xunit.Abstractions;

namespace RefQsr.Engine.Tests.Parity;

/// <summary>The acceptance asserted one figure at a time, each written to the test output.</summary>
internal static class ParityAsserts
{
    public static void Layers(ITestOutputHelper output, string label, IEnumerable<ParityCheck.Layer> layers)
    {
        foreach (var l in layers)
        {
            output.WriteLine($"{label} {l.Name}: {l.Identical}/{l.Total} codes identical");
            Assert.True(l.Passes, $"{label} {l.Name}: {l.Identical}/{l.Total} codes identical");
        }
    }

    public static void Hr(ITestOutputHelper output, string label, double maxAbs, double psnr)
    {
        output.WriteLine($"{label}: max |diff| {maxAbs:G4}, PSNR {psnr:F1} dB");
        Assert.True(maxAbs <= 0.5, $"{label}: max |diff| {maxAbs:G4} grey levels");
        Assert.True(psnr >= 60, $"{label}: PSNR against the reference {psnr:F1} dB");
    }
}
