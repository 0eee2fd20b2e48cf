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
        return StatusMapping.Guard(() =>
        {
            var net = SrResNet.Load(path);
            RefQsrUpscaler? refQsr = null;
            if (net.Config.RefQsr is not null)
            {
                if (cbPath is null)
                    return StatusMapping.Fail(Status.InvalidArgument, $"{Path.GetFileName(path)} is a {net.Config.Describe()}: pass its ClustBlock file as clustblock_path");
                var file = ModelFile.Load(cbPath);
                if (file.Config.Network != NetworkKind.ClustBlock)
                    return StatusMapping.Fail(Status.BadModel, $"{Path.GetFileName(cbPath)} is a {file.Config.Describe()}, not a ClustBlock");
                refQsr = new RefQsrUpscaler(net, ClustBlock.Load(file));
            }
            else if (cbPath is not null)
                return StatusMapping.Fail(Status.InvalidArgument, $"{Path.GetFileName(path)} is a {net.Config.Describe()}, which takes no ClustBlock: pass NULL as clustblock_path");
            *model = ModelHandles.Add(new NativeModel(net, refQsr));
            return Status.Ok;
        });
    }

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
