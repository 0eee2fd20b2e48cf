using System.Text.Json;
using RefQsr.Engine.Imaging;
using RefQsr.Engine.Inference;
using RefQsr.Engine.Networks;

namespace RefQsr.Cli;

/// <summary>Options and output shared by the commands.</summary>
internal static class Common
{
    public static readonly HashSet<string> TilingFlags = ["full-image", "json"];
    public static readonly HashSet<string> TilingValued = ["model", "clustblock", "patch", "threads", "max-pixels", "device", "tau"];

    public static UpscaleOptions Options(ArgParser a)
    {
        if (a.Has("full-image") && a.Has("patch")) throw CliException.Usage("--patch and --full-image exclude each other");
        return new UpscaleOptions
        {
            FullImage = a.Has("full-image"),
            PatchSize = a.GetInt("patch", 96, 12, 4096),
            Threads = a.GetInt("threads", Math.Max(1, Environment.ProcessorCount), 1, 256),
            Device = Device(a),
            Tau = a.GetDouble("tau", -1, 1),
        };
    }

    /// <summary>--device cpu|cuda|auto|ilgpu-cpu (default cpu; docs/gpu.md).</summary>
    public static ComputeDevice Device(ArgParser a) => a.Get("device") switch
    {
        null or "cpu" => ComputeDevice.Cpu,
        "cuda" => ComputeDevice.Cuda,
        "auto" => ComputeDevice.Auto,
        "ilgpu-cpu" => ComputeDevice.IlgpuCpu,
        var d => throw CliException.Usage($"--device must be cpu, cuda, auto or ilgpu-cpu, got '{d}'"),
    };

    public static (SrResNet Net, string Path) LoadModel(ArgParser a)
    {
        string path = ModelLocator.Resolve(a.Get("model"));
        return (SrResNet.Load(path), path);
    }

    /// <summary>The SR model and, for a RefQSR model, its ClustBlock (--clustblock or the
    /// shipped default) and the RefQSR schedule.</summary>
    public static Model LoadRunner(ArgParser a)
    {
        var (net, path) = LoadModel(a);
        if (net.Config.RefQsr is null)
        {
            if (a.Has("clustblock")) throw CliException.Usage($"--clustblock is only used with RefQSR models; {Path.GetFileName(path)} is a {net.Config.Describe()}");
            if (a.Has("tau")) throw CliException.Usage($"--tau is only used with RefQSR models; {Path.GetFileName(path)} is a {net.Config.Describe()}");
            return new Model(net, path, null, null);
        }
        string cbPath = ModelLocator.ResolveClustBlock(a.Get("clustblock"), Path.GetFileName(path));
        var file = RefQsr.Engine.Weights.ModelFile.Load(cbPath);
        if (file.Config.Network != RefQsr.Engine.Weights.NetworkKind.ClustBlock)
            throw new CliException($"{Path.GetFileName(cbPath)} is a {file.Config.Describe()}, not a ClustBlock (--clustblock)");
        return new Model(net, path, new RefQsrUpscaler(net, ClustBlock.Load(file)), cbPath);
    }

    public sealed record Model(SrResNet Net, string Path, RefQsrUpscaler? RefQsr, string? ClustBlockPath)
    {
        public UpscaleResult Run(RgbImage lr, UpscaleOptions options)
            => RefQsr is not null ? RefQsr.Run(lr, options) : new Upscaler(Net).Run(lr, options);
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
