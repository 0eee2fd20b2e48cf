using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using RefQsr.Engine.Inference;
using RefQsr.Engine.Networks;

namespace RefQsr.Native;

/// <summary>A loaded model behind a refqsr_model*: the network, RefQSR's upscaler for a
/// RefQSR model, and its description as UTF-8 for refqsr_model_describe.</summary>
internal sealed unsafe class NativeModel(SrResNet net, RefQsrUpscaler? refQsr)
{
    public SrResNet Net { get; } = net;
    public RefQsrUpscaler? RefQsr { get; } = refQsr;
    public byte* Description { get; } = (byte*)Marshal.StringToCoTaskMemUTF8(net.Config.Describe());

    public UpscaleResult Run(Engine.Imaging.RgbImage lr, UpscaleOptions options)
        => RefQsr is not null ? RefQsr.Run(lr, options) : new Upscaler(Net).Run(lr, options);

    public void FreeDescription() => Marshal.FreeCoTaskMem((nint)Description);
}

/// <summary>The refqsr_model* values handed out: tokens looked up in a table, not addresses,
/// so a pointer that was never handed out, or was freed, is an error rather than a crash.</summary>
internal static class ModelHandles
{
    static readonly ConcurrentDictionary<nint, NativeModel> models = new();
    static long next;

    public static nint Add(NativeModel model)
    {
        // pointer-sized, aligned, never null and never reused
        nint handle = (nint)(0x10000 + 16 * Interlocked.Increment(ref next));
        models[handle] = model;
        return handle;
    }

    public static NativeModel? Find(nint handle) => models.TryGetValue(handle, out var m) ? m : null;

    public static NativeModel? Remove(nint handle) => models.TryRemove(handle, out var m) ? m : null;
}
