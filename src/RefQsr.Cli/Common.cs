using System.Text.Json;
using RefQsr.Engine.Inference;
using RefQsr.Engine.Networks;

namespace RefQsr.Cli;

/// <summary>Options and output shared by the commands.</summary>
internal static class Common
{
    public static readonly HashSet<string> TilingFlags = ["full-image", "json"];
    public static readonly HashSet<string> TilingValued = ["model", "patch", "threads", "max-pixels"];

    public static UpscaleOptions Options(ArgParser a)
    {
        if (a.Has("full-image") && a.Has("patch")) throw CliException.Usage("--patch and --full-image exclude each other");
        return new UpscaleOptions
        {
            FullImage = a.Has("full-image"),
            PatchSize = a.GetInt("patch", 96, 12, 4096),
            Threads = a.GetInt("threads", Math.Max(1, Environment.ProcessorCount), 1, 256),
        };
    }

    public static (SrResNet Net, string Path) LoadModel(ArgParser a)
    {
        string path = ModelLocator.Resolve(a.Get("model"));
        return (SrResNet.Load(path), path);
    }

    public static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    public static void WriteJson(TextWriter w, object value) => w.WriteLine(JsonSerializer.Serialize(value, Json));

    public static double Round(double v, int digits) => double.IsFinite(v) ? Math.Round(v, digits) : v;
}
