using System.Text.Json;

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

    public float[] Floats(string name)
    {
        var b = Bytes(name);
        var f = new float[b.Length / 4];
        Buffer.BlockCopy(b, 0, f, 0, b.Length);
        return f;
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
