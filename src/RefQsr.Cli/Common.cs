using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
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

    /// <summary>A `--json` document (<see cref="CliJson"/>: source-generated, so the NativeAOT build writes it too).</summary>
    public static void WriteJson<T>(TextWriter w, T value, JsonTypeInfo<T> type) => w.WriteLine(JsonSerializer.Serialize(value, type));

    /// <summary>Warns on stderr when the kernels cannot use the processor's AVX2, the case where
    /// every conv takes a path several times slower: a DOTNET_EnableAVX2=0 setting, or a
    /// NativeAOT build for the default instruction set (docs/native.md).</summary>
    public static void WarnIfSlowPaths(TextWriter stderr)
    {
        var unused = RefQsr.Kernels.CpuFeatures.Unused();
        if (unused.Contains("AVX2"))
            stderr.WriteLine($"refqsr: warning: this processor has {string.Join(", ", unused)}, which this process does not use " +
                "(switched off by a DOTNET_Enable* setting, or left out of a NativeAOT build's instruction set: docs/native.md); the kernels take paths several times slower");
    }

    public static double Round(double v, int digits) => double.IsFinite(v) ? Math.Round(v, digits) : v;
}
