using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.InteropServices.Marshalling;
using RefQsr.Engine.Imaging;
using RefQsr.Engine.Inference;
using RefQsr.Engine.Networks;
using RefQsr.Engine.Weights;

namespace RefQsr.Native;

/// <summary>The functions of include/refqsr.h. Each checks its pointers and sizes, then calls
/// the engine inside <see cref="StatusMapping.Guard"/>.</summary>
internal static unsafe class NativeApi
{
    public const int AbiVersion = 1;

    [UnmanagedCallersOnly(EntryPoint = "refqsr_abi_version")]
    public static int GetAbiVersion() => AbiVersion;

    [UnmanagedCallersOnly(EntryPoint = "refqsr_last_error")]
    public static byte* GetLastError() => LastError.Get();

    [UnmanagedCallersOnly(EntryPoint = "refqsr_model_load")]
    public static Status LoadModel(byte* modelPath, byte* clustBlockPath, nint* model)
    {
        if (model == null) return StatusMapping.Fail(Status.InvalidArgument, "refqsr_model_load: model (the result pointer) is NULL");
        *model = 0;
        if (modelPath == null) return StatusMapping.Fail(Status.InvalidArgument, "refqsr_model_load: model_path is NULL");
        string path = Utf8StringMarshaller.ConvertToManaged(modelPath)!;
        string? cbPath = Utf8StringMarshaller.ConvertToManaged(clustBlockPath);
        return Load(Path.GetFileName(path), () => ModelFile.Load(path),
            cbPath is null ? null : Path.GetFileName(cbPath), cbPath is null ? null : () => ModelFile.Load(cbPath), model);
    }

    [UnmanagedCallersOnly(EntryPoint = "refqsr_model_load_memory")]
    public static Status LoadModelFromMemory(byte* modelData, nuint modelSize, byte* clustBlockData, nuint clustBlockSize, nint* model)
    {
        if (model == null) return StatusMapping.Fail(Status.InvalidArgument, "refqsr_model_load_memory: model (the result pointer) is NULL");
        *model = 0;
        if (modelData == null) return StatusMapping.Fail(Status.InvalidArgument, "refqsr_model_load_memory: model_data is NULL");
        if (modelSize > (nuint)Array.MaxLength || clustBlockSize > (nuint)Array.MaxLength)
            return StatusMapping.Fail(Status.InvalidArgument, $"refqsr_model_load_memory: a model of {Math.Max(modelSize, clustBlockSize)} bytes is larger than a model file can be");
        // copied: the engine keeps what it needs, and the caller may free its buffers on return
        byte[] m = new ReadOnlySpan<byte>(modelData, (int)modelSize).ToArray();
        byte[]? c = clustBlockData == null ? null : new ReadOnlySpan<byte>(clustBlockData, (int)clustBlockSize).ToArray();
        return Load("the model", () => ModelFile.Parse(m), c is null ? null : "the ClustBlock", c is null ? null : () => ModelFile.Parse(c), model);
    }

    /// <summary>Both loads: the SR model, and for a RefQSR model its ClustBlock, each named in messages.</summary>
    static Status Load(string name, Func<ModelFile> modelFile, string? clustBlockName, Func<ModelFile>? clustBlockFile, nint* model)
        => StatusMapping.Guard(() =>
        {
            var f = modelFile();
            if (f.Config.Network != NetworkKind.SrResNet)
                return StatusMapping.Fail(Status.BadModel, $"{name} is a {f.Config.Describe()}, not an SRResNet or RefQSR model");
            var net = SrResNet.Load(f);
            RefQsrUpscaler? refQsr = null;
            if (net.Config.RefQsr is not null)
            {
                if (clustBlockFile is null)
                    return StatusMapping.Fail(Status.InvalidArgument, $"{name} is a {net.Config.Describe()}: pass its ClustBlock too");
                var file = clustBlockFile();
                if (file.Config.Network != NetworkKind.ClustBlock)
                    return StatusMapping.Fail(Status.BadModel, $"{clustBlockName} is a {file.Config.Describe()}, not a ClustBlock");
                refQsr = new RefQsrUpscaler(net, ClustBlock.Load(file));
            }
            else if (clustBlockFile is not null)
                return StatusMapping.Fail(Status.InvalidArgument, $"{name} is a {net.Config.Describe()}, which takes no ClustBlock: pass NULL for it");
            *model = ModelHandles.Add(new NativeModel(net, refQsr));
            return Status.Ok;
        });

    [UnmanagedCallersOnly(EntryPoint = "refqsr_model_free")]
    public static void FreeModel(nint model) => ModelHandles.Remove(model)?.FreeDescription();

    [UnmanagedCallersOnly(EntryPoint = "refqsr_model_scale")]
    public static int ModelScale(nint model) => ModelHandles.Find(model)?.Net.Config.Scale ?? 0;

    [UnmanagedCallersOnly(EntryPoint = "refqsr_model_describe")]
    public static byte* DescribeModel(nint model) => ModelHandles.Find(model) is { } m ? m.Description : null;

    [UnmanagedCallersOnly(EntryPoint = "refqsr_upscale")]
    public static Status Upscale(nint model, byte* input, int width, int height, nuint inputStride,
        byte* output, nuint outputStride, NativeOptions* options, NativeStats* stats)
    {
        if (ModelHandles.Find(model) is not { } m)
            return StatusMapping.Fail(Status.InvalidArgument, "refqsr_upscale: model is NULL, freed, or not from refqsr_model_load");
        if (input == null || output == null) return StatusMapping.Fail(Status.InvalidArgument, $"refqsr_upscale: {(input == null ? "input" : "output")} is NULL");
        int scale = m.Net.Config.Scale;
        if (width < 1 || height < 1) return StatusMapping.Fail(Status.InvalidArgument, $"refqsr_upscale: image size {width}x{height} must be positive");
        if ((long)width * height * scale * scale * RgbImage.Channels > Array.MaxLength)
            return StatusMapping.Fail(Status.InvalidArgument, $"refqsr_upscale: a {width}x{height} image gives a {scale * (long)width}x{scale * (long)height} output, too large for one call; split it into tiles");
        if (inputStride < (nuint)(3 * width)) return StatusMapping.Fail(Status.InvalidArgument, $"refqsr_upscale: input_stride {inputStride} is less than 3 x width ({3 * width})");
        if (outputStride < (nuint)(3 * scale * width)) return StatusMapping.Fail(Status.InvalidArgument, $"refqsr_upscale: output_stride {outputStride} is less than 3 x {scale} x width ({3 * scale * width})");
        if (stats != null && stats->StructSize < sizeof(NativeStats))
            return StatusMapping.Fail(Status.InvalidArgument, $"refqsr_upscale: stats->struct_size is {stats->StructSize}, expected at least {sizeof(NativeStats)} (sizeof(refqsr_stats))");
        if (options != null && options->StructSize < sizeof(NativeOptions))
            return StatusMapping.Fail(Status.InvalidArgument, $"refqsr_upscale: options->struct_size is {options->StructSize}, expected at least {sizeof(NativeOptions)} (sizeof(refqsr_options))");
        NativeOptions o = options != null ? *options : default;
        return StatusMapping.Guard(() =>
        {
            var lr = new RgbImage(width, height);
            for (int y = 0; y < height; y++)
                new ReadOnlySpan<byte>(input + (nuint)y * inputStride, 3 * width).CopyTo(lr.Pixels.AsSpan(3 * width * y, 3 * width));
            using var cancel = new CancellationTokenSource();
            var result = m.Run(lr, new UpscaleOptions
            {
                PatchSize = o.PatchSize == 0 ? Engine.Tiling.PatchGrid.DefaultPatchSize : o.PatchSize,
                FullImage = o.FullImage != 0,
                Threads = o.Threads == 0 ? Math.Min(256, Environment.ProcessorCount) : o.Threads,
                Tau = o.SetTau != 0 ? o.Tau : null,
                Cancellation = cancel.Token,
                Progress = o.Progress == null ? null : new CallbackProgress(o.Progress, o.ProgressUser, cancel),
            });
            var hr = result.Image;
            for (int y = 0; y < hr.Height; y++)
                hr.Pixels.AsSpan(3 * hr.Width * y, 3 * hr.Width).CopyTo(new Span<byte>(output + (nuint)y * outputStride, 3 * hr.Width));
            if (stats != null)
            {
                stats->Patches = result.Grid.Patches.Count;
                stats->GigaBitOps = result.GigaBitOps;
                stats->Fqr = result.Fqr;
                stats->ReferenceRatio = result.ReferenceRatio ?? double.NaN;
                stats->Seconds = result.Elapsed.TotalSeconds;
            }
            return Status.Ok;
        });
    }

    /// <summary>refqsr_progress_fn as the engine's progress: a nonzero return cancels the run.</summary>
    sealed class CallbackProgress(delegate* unmanaged<int, int, nint, int> callback, nint user, CancellationTokenSource cancel) : IProgress<UpscaleProgress>
    {
        public void Report(UpscaleProgress p)
        {
            if (callback(p.PatchesDone, p.PatchesTotal, user) != 0) cancel.Cancel();
        }
    }
}
