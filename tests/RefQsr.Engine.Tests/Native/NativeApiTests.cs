using System.Runtime.InteropServices;
using RefQsr.Engine.Imaging;
using RefQsr.Engine.Inference;
using RefQsr.Engine.Networks;
using RefQsr.Engine.Tests.Cli;
using RefQsr.Engine.Weights;
using RefQsr.Native;

namespace RefQsr.Engine.Tests.Native;

/// <summary>The C API (include/refqsr.h) called as C calls it, through unmanaged function
/// pointers, in this process: results equal the engine's, every failure is a status with a
/// message, and nothing is written on failure. scripts/check-native-lib.sh runs a C program
/// against the NativeAOT library.</summary>
public unsafe class NativeApiTests : CliTestBase
{
    static Status Load(string? model, string? clustBlock, out nint handle)
    {
        var load = (delegate* unmanaged<byte*, byte*, nint*, Status>)&NativeApi.LoadModel;
        nint h = 0;
        byte* m = (byte*)Marshal.StringToCoTaskMemUTF8(model), c = (byte*)Marshal.StringToCoTaskMemUTF8(clustBlock);
        try { return load(m, c, &h); }
        finally
        {
            handle = h;
            Marshal.FreeCoTaskMem((nint)m);
            Marshal.FreeCoTaskMem((nint)c);
        }
    }

    static Status Upscale(nint model, byte[] input, int w, int h, int inStride, byte[] output, int outStride, NativeOptions* options = null, NativeStats* stats = null)
    {
        var upscale = (delegate* unmanaged<nint, byte*, int, int, nuint, byte*, nuint, NativeOptions*, NativeStats*, Status>)&NativeApi.Upscale;
        fixed (byte* i = input, o = output)
            return upscale(model, i, w, h, (nuint)inStride, o, (nuint)outStride, options, stats);
    }

    static void Free(nint model) => ((delegate* unmanaged<nint, void>)&NativeApi.FreeModel)(model);

    static string LastError() => Marshal.PtrToStringUTF8((nint)((delegate* unmanaged<byte*>)&NativeApi.GetLastError)())!;

    /// <summary>The image's rows <paramref name="stride"/> bytes apart, the gaps filled with 0xEE.</summary>
    static byte[] Strided(RgbImage image, int stride)
    {
        var b = Enumerable.Repeat((byte)0xEE, stride * image.Height).ToArray();
        for (int y = 0; y < image.Height; y++) image.Pixels.AsSpan(3 * image.Width * y, 3 * image.Width).CopyTo(b.AsSpan(stride * y));
        return b;
    }

    [Fact]
    public void PlainModelGivesTheEnginesBytesWithPaddedRows()
    {
        string path = Write("m.safetensors", TestModels.Config(QuantizerKind.Ddtb, 4, 3));
        Assert.Equal(Status.Ok, Load(path, null, out nint model));
        var lr = SyntheticScene.Create(37, 29);
        var expected = new Upscaler(SrResNet.Load(path)).Run(lr, new UpscaleOptions { PatchSize = 16, Threads = 1 }).Image;
        int outStride = 3 * 4 * 37 + 7;
        var output = new byte[outStride * 4 * 29];
        var options = new NativeOptions { StructSize = (uint)sizeof(NativeOptions), PatchSize = 16, Threads = 2 };
        var stats = new NativeStats { StructSize = (uint)sizeof(NativeStats) };
        Assert.Equal(Status.Ok, Upscale(model, Strided(lr, 3 * 37 + 5), 37, 29, 3 * 37 + 5, output, outStride, &options, &stats));
        for (int y = 0; y < expected.Height; y++)
            Assert.True(expected.Pixels.AsSpan(3 * expected.Width * y, 3 * expected.Width).SequenceEqual(output.AsSpan(outStride * y, 3 * expected.Width)), $"row {y}");
        Assert.True(stats.Patches > 1 && stats.GigaBitOps > 0 && stats.Fqr == 4);
        Assert.True(double.IsNaN(stats.ReferenceRatio));
        Assert.Equal(4, ((delegate* unmanaged<nint, int>)&NativeApi.ModelScale)(model));
        Assert.Equal("SRResNet x4, 3 blocks, 64 ch, DDTB w4a4", Marshal.PtrToStringUTF8((nint)((delegate* unmanaged<nint, byte*>)&NativeApi.DescribeModel)(model)));
        Free(model);
    }

    [Fact]
    public void RefQsrModelGivesTheEnginesBytesAndItsPairing()
    {
        string path = Write("rq.safetensors", TestModels.RefQsrConfig()), cb = Write("cb.safetensors", TestModels.ClustBlockConfig());
        Assert.Equal(Status.Ok, Load(path, cb, out nint model));
        var lr = SyntheticScene.Create(48, 36);
        var upscaler = new RefQsrUpscaler(SrResNet.Load(path), ClustBlock.Load(cb));
        var engine = upscaler.Run(lr, new UpscaleOptions { PatchSize = 12, Tau = 1 });   // no cosine exceeds 1: no pairs
        // the tau passed below must matter on this image
        Assert.NotEqual(upscaler.Run(lr, new UpscaleOptions { PatchSize = 12 }).ReferenceRatio, engine.ReferenceRatio);
        var output = new byte[3 * 4 * 48 * 4 * 36];
        var options = new NativeOptions { StructSize = (uint)sizeof(NativeOptions), PatchSize = 12, SetTau = 1, Tau = 1 };
        var stats = new NativeStats { StructSize = (uint)sizeof(NativeStats) };
        Assert.Equal(Status.Ok, Upscale(model, lr.Pixels, 48, 36, 3 * 48, output, 3 * 4 * 48, &options, &stats));
        Assert.Equal(engine.Image.Pixels, output);
        Assert.Equal(engine.ReferenceRatio, stats.ReferenceRatio);
        Free(model);
    }

    static Status LoadFromMemory(byte[] model, byte[]? clustBlock, out nint handle)
    {
        var load = (delegate* unmanaged<byte*, nuint, byte*, nuint, nint*, Status>)&NativeApi.LoadModelFromMemory;
        nint h = 0;
        Status st;
        fixed (byte* m = model, c = clustBlock)
            st = load(m, (nuint)model.Length, c, clustBlock is null ? 0 : (nuint)clustBlock.Length, &h);
        handle = h;
        return st;
    }

    [Fact]
    public void ModelsLoadFromMemoryAsFromFiles()
    {
        string path = Write("rq.safetensors", TestModels.RefQsrConfig()), cb = Write("cb.safetensors", TestModels.ClustBlockConfig());
        Assert.Equal(Status.Ok, Load(path, cb, out nint fromFile));
        Assert.Equal(Status.Ok, LoadFromMemory(File.ReadAllBytes(path), File.ReadAllBytes(cb), out nint fromMemory));
        var lr = SyntheticScene.Create(40, 30);
        byte[] a = new byte[3 * 160 * 120], b = new byte[a.Length];
        var options = new NativeOptions { StructSize = (uint)sizeof(NativeOptions), PatchSize = 16, Threads = 1 };
        Assert.Equal(Status.Ok, Upscale(fromFile, lr.Pixels, 40, 30, 120, a, 480, &options));
        Assert.Equal(Status.Ok, Upscale(fromMemory, lr.Pixels, 40, 30, 120, b, 480, &options));
        Assert.Equal(a, b);
        Free(fromFile);
        Free(fromMemory);
        // damaged bytes, a ClustBlock as the model, a RefQSR model without its ClustBlock
        Assert.Equal(Status.BadModel, LoadFromMemory(File.ReadAllBytes(path)[..200], null, out nint h));
        Assert.Equal(0, h);
        Assert.Equal(Status.BadModel, LoadFromMemory(File.ReadAllBytes(cb), null, out _));
        Assert.Contains("not an SRResNet", LastError());
        Assert.Equal(Status.InvalidArgument, LoadFromMemory(File.ReadAllBytes(path), null, out _));
        Assert.Contains("ClustBlock", LastError());
    }

    [Fact]
    public void FailuresAreStatusesWithMessagesAndWriteNothing()
    {
        string plain = Write("m.safetensors", TestModels.Config(QuantizerKind.Ddtb, 8, 3));
        string rq = Write("rq.safetensors", TestModels.RefQsrConfig()), cb = Write("cb.safetensors", TestModels.ClustBlockConfig());
        string corrupt = Path.Combine(Dir, "corrupt.safetensors");
        File.WriteAllBytes(corrupt, File.ReadAllBytes(plain)[..100]);

        Assert.Equal(Status.BadModel, Load(Path.Combine(Dir, "missing.safetensors"), null, out nint h));
        Assert.Equal(0, h);
        Assert.Contains("missing.safetensors", LastError());
        Assert.Equal(Status.BadModel, Load(corrupt, null, out _));
        Assert.Equal(Status.InvalidArgument, Load(rq, null, out _));
        Assert.Contains("ClustBlock", LastError());
        Assert.Equal(Status.BadModel, Load(rq, plain, out _));
        Assert.Contains("not a ClustBlock", LastError());
        Assert.Equal(Status.InvalidArgument, Load(plain, cb, out _));
        Assert.Equal(Status.InvalidArgument, Load(null, null, out _));

        Assert.Equal(Status.Ok, Load(plain, null, out nint model));
        var lr = SyntheticScene.Create(20, 16);
        var output = Enumerable.Repeat((byte)0xAB, 3 * 80 * 64).ToArray();
        var good = new NativeOptions { StructSize = (uint)sizeof(NativeOptions) };
        var badPatch = good with { PatchSize = 5 };
        var oldOptions = good with { StructSize = 8 };
        var oldStats = new NativeStats { StructSize = 4 };
        NativeOptions* pBadPatch = &badPatch, pOldOptions = &oldOptions;
        NativeStats* pOldStats = &oldStats;
        var cases = new (Func<Status> Call, Status Expected, string Message)[]
        {
            (() => Upscale(model, lr.Pixels, 20, 16, 3 * 20 - 1, output, 3 * 80), Status.InvalidArgument, "input_stride"),
            (() => Upscale(model, lr.Pixels, 20, 16, 3 * 20, output, 3 * 79), Status.InvalidArgument, "output_stride"),
            (() => Upscale(model, lr.Pixels, 0, 16, 3 * 20, output, 3 * 80), Status.InvalidArgument, "must be positive"),
            (() => Upscale(model, lr.Pixels, 60000, 60000, 3 * 60000, output, 3 * 4 * 60000), Status.InvalidArgument, "too large"),
            (() => Upscale(model, lr.Pixels, 20, 16, 3 * 20, output, 3 * 80, pBadPatch), Status.InvalidArgument, "patch size"),
            (() => Upscale(model, lr.Pixels, 20, 16, 3 * 20, output, 3 * 80, pOldOptions), Status.InvalidArgument, "struct_size"),
            (() => Upscale(model, lr.Pixels, 20, 16, 3 * 20, output, 3 * 80, null, pOldStats), Status.InvalidArgument, "struct_size"),
            (() => Upscale(12345, lr.Pixels, 20, 16, 3 * 20, output, 3 * 80), Status.InvalidArgument, "not from refqsr_model_load"),
        };
        foreach (var (call, expected, message) in cases)
        {
            Assert.Equal(expected, call());
            Assert.Contains(message, LastError());
        }
        Assert.All(output, b => Assert.Equal(0xAB, b));
        // a freed model is an error, not a crash; freeing it again is ignored
        Free(model);
        Assert.Equal(Status.InvalidArgument, Upscale(model, lr.Pixels, 20, 16, 3 * 20, output, 3 * 80));
        Free(model);
        Assert.Equal(0, ((delegate* unmanaged<nint, int>)&NativeApi.ModelScale)(model));
    }

    [Fact]
    public void ModelArithmeticFailureIsItsOwnStatus()
    {
        // tail weights of +-3e38: every output sums +inf and -inf, so NaN (ModelValueTests)
        var c = TestModels.Config(blocks: 1);
        string path = Path.Combine(Dir, "overflow.safetensors");
        File.WriteAllBytes(path, ModelFile.Serialize(c, TestModels.Tensors(c).Select(t => t.Name == "tail.weight"
            ? Tensor.FromFloats(t.Name, t.ToFloats().Select((_, i) => i % 2 == 0 ? 3e38f : -3e38f).ToArray(), [.. t.Shape]) : t)));
        Assert.Equal(Status.Ok, Load(path, null, out nint model));
        var lr = SyntheticScene.Create(30, 20);
        var output = new byte[3 * 120 * 80];
        Assert.Equal(Status.ModelArithmetic, Upscale(model, lr.Pixels, 30, 20, 90, output, 360));
        Assert.Contains("holds NaN", LastError());
        Free(model);
    }

    [UnmanagedCallersOnly]
    static int StopAtFirstPatch(int done, int total, nint user)
    {
        *(int*)user = total;
        return 1;
    }

    [Fact]
    public void ProgressCallbackCancelsTheRun()
    {
        Assert.Equal(Status.Ok, Load(Write("m.safetensors", TestModels.Config(QuantizerKind.Ddtb, 8, 3)), null, out nint model));
        var lr = SyntheticScene.Create(40, 40);
        var output = Enumerable.Repeat((byte)0xAB, 3 * 160 * 160).ToArray();
        int total = 0;
        var options = new NativeOptions { StructSize = (uint)sizeof(NativeOptions), PatchSize = 12, Threads = 1,
            Progress = &StopAtFirstPatch, ProgressUser = (nint)(&total) };
        Assert.Equal(Status.Cancelled, Upscale(model, lr.Pixels, 40, 40, 120, output, 480, &options));
        Assert.True(total > 1, "the callback saw the patch count");
        Assert.Contains("cancelled", LastError());
        Assert.All(output, b => Assert.Equal(0xAB, b));
        Free(model);
    }

    [Fact]
    public void LastErrorIsPerThread()
    {
        Assert.Equal(Status.BadModel, Load(Path.Combine(Dir, "a.safetensors"), null, out _));
        string other = "";
        var t = new Thread(() =>
        {
            Load(Path.Combine(Dir, "b.safetensors"), null, out _);
            other = LastError();
        });
        t.Start();
        t.Join();
        Assert.Contains("b.safetensors", other);
        Assert.Contains("a.safetensors", LastError());
    }
}
