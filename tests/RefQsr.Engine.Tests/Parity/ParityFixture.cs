using System.Text.Json;

namespace RefQsr.Engine.Tests.Parity;

/// <summary>One folder written by train/make_fixtures.py: manifest.json plus raw
/// little-endian arrays, and the model (in the folder, or shipped in weights/).</summary>
internal sealed class ParityFixture
{
    public string Name { get; }
    public string Folder { get; }
    public string ModelPath { get; }
    readonly Dictionary<string, (string File, string DType, int[] Shape, string Layout)> files = [];

    ParityFixture(string folder)
    {
        Folder = folder;
        Name = Path.GetFileName(folder);
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "manifest.json")));
        foreach (var f in doc.RootElement.GetProperty("files").EnumerateArray())
            files[f.GetProperty("name").GetString()!] = (f.GetProperty("file").GetString()!, f.GetProperty("dtype").GetString()!,
                f.GetProperty("shape").EnumerateArray().Select(e => e.GetInt32()).ToArray(), f.GetProperty("layout").GetString()!);
        string local = Path.Combine(folder, "model.safetensors");
        ModelPath = File.Exists(local) ? local : Path.Combine(RepoRoot(), "weights", Name + ".safetensors");
    }

    public static string FixturesRoot => Path.Combine(AppContext.BaseDirectory, "fixtures");

    public static IEnumerable<string> Names()
        => Directory.Exists(FixturesRoot)
            ? Directory.GetDirectories(FixturesRoot).Where(d => File.Exists(Path.Combine(d, "manifest.json"))).Select(Path.GetFileName).Order()!
            : [];

    public static ParityFixture Load(string name) => new(Path.Combine(FixturesRoot, name));

    public IEnumerable<string> CodeNames => files.Keys.Where(k => k.StartsWith("codes_q", StringComparison.Ordinal)).Order();

    public int[] Shape(string name) => files[name].Shape;

    public byte[] Bytes(string name) => File.ReadAllBytes(Path.Combine(Folder, files[name].File));

    public float[] Floats(string name)
    {
        var b = Bytes(name);
        var f = new float[b.Length / 4];
        Buffer.BlockCopy(b, 0, f, 0, b.Length);
        return f;
    }

    /// <summary>An NCHW (N = 1) array in the engine's HWC order.</summary>
    public static T[] ChwToHwc<T>(T[] chw, int c, int h, int w)
    {
        var r = new T[chw.Length];
        for (int ch = 0; ch < c; ch++)
            for (int p = 0; p < h * w; p++) r[p * c + ch] = chw[ch * h * w + p];
        return r;
    }

    /// <summary>Max |difference| (grey levels) and PSNR (0..255 scale) of the engine's HR
    /// output against the reference's.</summary>
    public static (double MaxAbs, double Psnr) CompareHr(float[] actual, float[] reference)
    {
        double maxAbs = 0, se = 0;
        for (int i = 0; i < actual.Length; i++)
        {
            double d = actual[i] - reference[i];
            maxAbs = Math.Max(maxAbs, Math.Abs(d));
            se += d * d;
        }
        double psnr = se == 0 ? double.PositiveInfinity : 10 * Math.Log10(255.0 * 255.0 / (se / actual.Length));
        return (maxAbs, psnr);
    }

    static string RepoRoot()
    {
        var d = new DirectoryInfo(AppContext.BaseDirectory);
        while (d is not null && !File.Exists(Path.Combine(d.FullName, "RefQsr.Engine.sln"))) d = d.Parent;
        return d?.FullName ?? throw new DirectoryNotFoundException("repository root not found above the test output");
    }
}
