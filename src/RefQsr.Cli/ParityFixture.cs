using System.Text.Json;
using RefQsr.Engine.Diagnostics;

namespace RefQsr.Cli;

/// <summary>One folder written by train/make_fixtures.py: manifest.json plus raw
/// little-endian arrays (input.u8, codes_qK.u8, hr.f32, ...), and the model, in the folder as
/// model.safetensors or shipped under the folder's name.</summary>
internal sealed class ParityFixture
{
    public string Name { get; }
    public string Folder { get; }
    public JsonElement Manifest { get; }
    readonly Dictionary<string, (string File, int[] Shape)> files = [];

    ParityFixture(string folder)
    {
        Folder = folder;
        Name = Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(folder)));
        string manifest = Path.Combine(folder, "manifest.json");
        if (!File.Exists(manifest)) throw new CliException($"{folder}: no manifest.json (a folder written by train/make_fixtures.py)");
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(manifest));
            Manifest = doc.RootElement.Clone();
            foreach (var f in Manifest.GetProperty("files").EnumerateArray())
                files[f.GetProperty("name").GetString()!] = (f.GetProperty("file").GetString()!,
                    f.GetProperty("shape").EnumerateArray().Select(e => e.GetInt32()).ToArray());
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            throw new CliException($"{manifest}: not a fixture manifest ({e.Message})");
        }
    }

    public static ParityFixture Open(string folder) => new(folder);

    /// <summary>The model: <paramref name="model"/> when given (a file or a shipped name), else
    /// the folder's model.safetensors, else the shipped model of the folder's name.</summary>
    public string ModelPath(string? model = null)
    {
        string local = Path.Combine(Folder, "model.safetensors");
        return model is not null ? ModelLocator.Resolve(model) : File.Exists(local) ? local : ModelLocator.Resolve(Name);
    }

    public bool Has(string name) => files.ContainsKey(name);

    public IEnumerable<string> FileNames => files.Keys.Order();

    public IEnumerable<string> CodeNames => files.Keys.Where(k => k.StartsWith("codes_q", StringComparison.Ordinal)).Order();

    public int[] Shape(string name) => Entry(name).Shape;

    public byte[] Bytes(string name)
    {
        var (file, shape) = Entry(name);
        string path = Path.Combine(Folder, file);
        if (!File.Exists(path)) throw new CliException($"{path}: missing (listed in the manifest)");
        var b = File.ReadAllBytes(path);
        long elements = shape.Aggregate(1L, (a, d) => a * d);
        if (b.Length != elements && b.Length != 4 * elements)
            throw new CliException($"{path}: {b.Length} bytes, its shape [{string.Join(", ", shape)}] needs {elements} values");
        return b;
    }

    public int[] Ints(string name)
    {
        var b = Bytes(name);
        var v = new int[b.Length / 4];
        Buffer.BlockCopy(b, 0, v, 0, b.Length);
        return v;
    }

    public float[] Floats(string name)
    {
        var b = Bytes(name);
        var f = new float[b.Length / 4];
        Buffer.BlockCopy(b, 0, f, 0, b.Length);
        return f;
    }

    /// <summary>The LR input: HWC bytes and its size.</summary>
    public (byte[] Pixels, int Height, int Width) Input()
    {
        var s = Shape("input");
        return (Bytes("input"), s[0], s[1]);
    }

    /// <summary>The plain forward's traced codes (quantizer K → HWC codes), for <see cref="ParityCheck.Run"/>.</summary>
    public Dictionary<int, byte[]> Codes()
        => CodeNames.ToDictionary(n => int.Parse(n["codes_q".Length..]), Hwc);

    /// <summary>An NCHW float or byte array of the manifest as HWC.</summary>
    byte[] Hwc(string name)
    {
        var c = Shape(name);
        return ChwToHwc(Bytes(name), c[1], c[2], c[3]);
    }

    float[] HwcFloats(string name)
    {
        var c = Shape(name);
        return ChwToHwc(Floats(name), c[1], c[2], c[3]);
    }

    /// <summary>The FP32 input of quantizer 0 (the head's output), HWC, where the fixture has it.</summary>
    public float[]? Head() => Has("x_q0") ? HwcFloats("x_q0") : null;

    /// <summary>The plain forward's HR output, HWC, before clamping.</summary>
    public float[] Hr() => HwcFloats("hr");

    /// <summary>Whether this is a --tiny-refqsr fixture, with RefQSR's own stages besides the plain forward.</summary>
    public bool IsRefQsr => Manifest.TryGetProperty("clustblock_model", out _);

    /// <summary>A RefQSR fixture's ClustBlock (a file in the folder), patches and expectations
    /// for <see cref="RefQsrParityCheck.Run"/>.</summary>
    public (string ClustBlockPath, List<RefQsrParityCheck.PatchBox> Patches, RefQsrParityCheck.Expected Expected) RefQsr()
    {
        var m = Manifest;
        try
        {
            var patches = m.GetProperty("patches").EnumerateArray()
                .Select(p => p.EnumerateArray().Select(v => v.GetInt32()).ToArray())
                .Select(p => new RefQsrParityCheck.PatchBox(p[0], p[1], p[2], p[3])).ToList();
            const string codesPrefix = "query_codes_";
            var queryCodes = FileNames.Where(n => n.StartsWith(codesPrefix, StringComparison.Ordinal)).ToDictionary(n => n[codesPrefix.Length..], Hwc);
            const string argmaxPrefix = "query_argmax_", flowPrefix = "query_flow_";
            var expected = new RefQsrParityCheck.Expected(Floats("logits"), Ints("ref"),
                m.GetProperty("config").GetProperty("refqsr").GetProperty("tau").GetDouble(),
                m.GetProperty("query").GetInt32(), m.GetProperty("query_reference").GetInt32(), queryCodes, HwcFloats("query_hr"))
            {
                QueryMatches = FileNames.Where(n => n.StartsWith(argmaxPrefix, StringComparison.Ordinal)).ToDictionary(n => n[argmaxPrefix.Length..], Ints),
                QueryFlows = FileNames.Where(n => n.StartsWith(flowPrefix, StringComparison.Ordinal)).ToDictionary(n => n[flowPrefix.Length..], HwcFloats),
            };
            return (Path.Combine(Folder, m.GetProperty("clustblock_model").GetString()!), patches, expected);
        }
        catch (Exception e) when (e is KeyNotFoundException or InvalidOperationException or IndexOutOfRangeException)
        {
            throw new CliException($"{Folder}: not a RefQSR fixture manifest ({e.Message})");
        }
    }

    (string File, int[] Shape) Entry(string name)
        => files.TryGetValue(name, out var e) ? e : throw new CliException($"{Folder}: the manifest lists no '{name}'");

    /// <summary>An NCHW (N = 1) array in the engine's HWC order.</summary>
    public static T[] ChwToHwc<T>(T[] chw, int c, int h, int w)
    {
        var r = new T[chw.Length];
        for (int ch = 0; ch < c; ch++)
            for (int p = 0; p < h * w; p++) r[p * c + ch] = chw[ch * h * w + p];
        return r;
    }
}
