using System.Text.Json;

namespace RefQsr.Engine.Tests.Cli;

/// <summary>`refqsr parity DIR` on the committed fixtures, and on copies with the reference
/// changed: it must fail then, naming what differs.</summary>
public sealed class ParityCommandTests : CliTestBase
{
    static string Fixture(string name) => Path.Combine(AppContext.BaseDirectory, "fixtures", name);

    string Copy(string name)
    {
        string to = Path.Combine(Dir, name);
        Directory.CreateDirectory(to);
        foreach (var f in Directory.GetFiles(Fixture(name))) File.Copy(f, Path.Combine(to, Path.GetFileName(f)));
        return to;
    }

    [Theory]
    [InlineData("tiny-ddtb-w4a4")]
    [InlineData("tiny-pams-w3a2")]
    [InlineData("tiny-fp32")]
    [InlineData("tiny-refqsr-ddtb-8-4")]
    public void CommittedFixturesHold(string name)
    {
        var (code, stdout, err) = Run("parity", Fixture(name), "--json");
        Assert.True(code == 0, err + stdout);
        using var doc = JsonDocument.Parse(stdout);
        Assert.True(doc.RootElement.GetProperty("passes").GetBoolean());
        // the head's FP32 output (the first quantizer's input) is the reference's bit for bit
        Assert.Equal(0, doc.RootElement.GetProperty("head_differing").GetInt32());
        Assert.Equal(!name.Contains("fp32") && !name.Contains("refqsr"), doc.RootElement.GetProperty("head_total").GetInt32() > 0);   // the RefQSR fixtures record quantizer 3, not 0
        Assert.Equal(name.Contains("fp32") ? 0 : 1, Math.Min(1, doc.RootElement.GetProperty("layers").GetArrayLength()));
        // a RefQSR fixture: its own stages too
        Assert.Equal(name.Contains("refqsr"), doc.RootElement.GetProperty("scope").GetString()!.Contains("query patch"));
        var refqsr = doc.RootElement.GetProperty("refqsr");
        Assert.Equal(name.Contains("refqsr"), refqsr.ValueKind == JsonValueKind.Object);
        if (refqsr.ValueKind == JsonValueKind.Object)
        {
            Assert.True(refqsr.GetProperty("passes").GetBoolean() && refqsr.GetProperty("references_match").GetBoolean());
            Assert.Equal(2, refqsr.GetProperty("query_layers").GetArrayLength());
            Assert.All(refqsr.GetProperty("query_matchings").EnumerateArray(), m => Assert.True(m.GetProperty("passes").GetBoolean()));
            Assert.Equal(2, refqsr.GetProperty("query_matchings").GetArrayLength());
        }
    }

    [Fact]
    public void ChangedReferencesFail()
    {
        var (code, stdout) = ParityOfChanged("tiny-refqsr-ddtb-8-4", dir => Path.Combine(dir, "ref.i32"),
            b => BitConverter.GetBytes(BitConverter.ToInt32(b, 0) == 0 ? 1 : 0).CopyTo(b, 0));   // patch 0's reference changed
        Assert.Equal(1, code);
        Assert.Contains("FAILS: the reference's differ", stdout);
    }

    [Fact]
    public void ChangedArgmaxFails()
    {
        var (code, stdout) = ParityOfChanged("tiny-refqsr-ddtb-8-4", dir => Path.Combine(dir, "query_argmax_refer.2.i32"),
            b => BitConverter.GetBytes(BitConverter.ToInt32(b, 0) + 1).CopyTo(b, 0));   // one pooled position matched elsewhere
        Assert.Equal(1, code);
        Assert.Contains("query refer.2 argmax 15/16 positions identical", stdout);
    }

    [Fact]
    public void ChangedCodesFailNamingTheLayer()
    {
        // 1% of the first traced quantizer's codes changed: 99.9% must match
        var (code, stdout) = ParityOfChanged("tiny-ddtb-w4a4", dir => Directory.GetFiles(dir, "codes_q*.u8").Order().First(),
            b => { for (int i = 0; i < b.Length; i += 100) b[i] ^= 1; });
        Assert.Equal(1, code);
        Assert.Contains("FAILS: needs 99.9%", stdout);
        Assert.EndsWith("parity   FAILS", stdout.Trim());
    }

    [Fact]
    public void ChangedHrFails()
    {
        var (code, stdout) = ParityOfChanged("tiny-fp32", dir => Path.Combine(dir, "hr.f32"),
            b => BitConverter.GetBytes(BitConverter.ToSingle(b, 400) + 1f).CopyTo(b, 400));   // one value one grey level off
        Assert.Equal(1, code);
        Assert.Contains("FAILS: needs <= 0.5", stdout);
    }

    /// <summary>`refqsr parity` on a copy of a fixture with one of its files changed.</summary>
    private (int Code, string Stdout) ParityOfChanged(string fixture, Func<string, string> file, Action<byte[]> change)
    {
        string path = file(Copy(fixture));
        var b = File.ReadAllBytes(path);
        change(b);
        File.WriteAllBytes(path, b);
        var (code, stdout, _) = Run("parity", Path.GetDirectoryName(path)!);
        return (code, stdout);
    }

    [Fact]
    public void NotAFixtureIsAOneLineError()
    {
        var (code, _, err) = Run("parity", Dir);
        Assert.Equal(1, code);
        Assert.Contains("no manifest.json", err);
        string dir = Copy("tiny-fp32");
        File.Delete(Path.Combine(dir, "hr.f32"));
        (code, _, err) = Run("parity", dir);
        Assert.Equal(1, code);
        Assert.Contains("hr.f32: missing", err);
    }
}
