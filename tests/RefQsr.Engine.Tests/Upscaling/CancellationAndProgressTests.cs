using System.Collections.Concurrent;
using RefQsr.Engine.Imaging;
using RefQsr.Engine.Inference;
using RefQsr.Engine.Networks;
using RefQsr.Engine.Quantization;
using RefQsr.Engine.Weights;

namespace RefQsr.Engine.Tests.Upscaling;

/// <summary><see cref="UpscaleOptions.Progress"/> and <see cref="UpscaleOptions.Cancellation"/>
/// for plain and RefQSR models, on one and several threads.</summary>
public class CancellationAndProgressTests
{
    /// <summary>Reports on the caller's thread as they come (Progress&lt;T&gt; would post them).</summary>
    sealed class Reports(Action<UpscaleProgress>? onReport = null) : IProgress<UpscaleProgress>
    {
        public readonly ConcurrentQueue<UpscaleProgress> All = new();
        public void Report(UpscaleProgress value) { All.Enqueue(value); onReport?.Invoke(value); }
    }

    static readonly Lazy<SrResNet> Plain = new(() => SrResNet.Load(TestModels.File(TestModels.Config(QuantizerKind.Ddtb, 8, gated: [1]))));
    static readonly Lazy<RefQsrUpscaler> RefQsr = new(() => new(
        SrResNet.Load(TestModels.File(TestModels.RefQsrConfig(QuantizerKind.Ddtb, 8, 4, gated: [0, 3]))),
        ClustBlock.Load(TestModels.File(TestModels.ClustBlockConfig()))));

    static RgbImage Lr(int w, int h) => new(w, h, TestModels.Image(h, w).Select(v => (byte)v).ToArray());

    // 40x31 LR in 16-px patches: a 3x2 grid
    static readonly UpscaleOptions Patches16 = new() { PatchSize = 16 };

    // ILGPU's CPU accelerator is slow: 16 channels there, as the GPU tests use
    static readonly Lazy<SrResNet> PlainNarrow = new(() => SrResNet.Load(TestModels.File(TestModels.Config(QuantizerKind.Ddtb, 8, gated: [1]) with { Channels = 16 })));
    static readonly Lazy<RefQsrUpscaler> RefQsrNarrow = new(() => new(
        SrResNet.Load(TestModels.File(TestModels.RefQsrConfig(QuantizerKind.Ddtb, 8, 4, gated: [0, 3]) with { Channels = 16 })),
        ClustBlock.Load(TestModels.File(TestModels.ClustBlockConfig()))));

    static UpscaleResult Run(bool refqsr, RgbImage lr, UpscaleOptions o)
        => o.Device == ComputeDevice.IlgpuCpu
            ? (refqsr ? RefQsrNarrow.Value.Run(lr, o) : new Upscaler(PlainNarrow.Value).Run(lr, o))
            : (refqsr ? RefQsr.Value.Run(lr, o) : new Upscaler(Plain.Value).Run(lr, o));

    [Theory]
    [InlineData(false, 1)]
    [InlineData(false, 3)]
    [InlineData(true, 1)]
    [InlineData(true, 2)]
    [InlineData(true, 4)]
    public void ProgressCountsEveryPatchOnce(bool refqsr, int threads)
    {
        var lr = Lr(40, 31);
        var reports = new Reports();
        var r = Run(refqsr, lr, Patches16 with { Threads = threads, Progress = reports });
        int n = r.Grid.Patches.Count;
        Assert.Equal(6, n);
        Assert.Equal(Enumerable.Range(1, n), reports.All.Select(p => p.PatchesDone).Order());
        Assert.All(reports.All, p => Assert.Equal(n, p.PatchesTotal));
        Assert.Equal(Run(refqsr, lr, Patches16).Image.Pixels, r.Image.Pixels);   // reporting changes nothing
    }

    [Theory]
    [InlineData(false, 1)]
    [InlineData(false, 3)]
    [InlineData(true, 1)]
    [InlineData(true, 3)]
    public void ACancelledRunThrowsAndTheNextRunGivesTheSameBytes(bool refqsr, int threads)
    {
        var lr = Lr(40, 31);
        var expected = Run(refqsr, lr, Patches16 with { Threads = threads }).Image.Pixels;

        using var before = new CancellationTokenSource();
        before.Cancel();
        var reports = new Reports();
        Assert.ThrowsAny<OperationCanceledException>(() => Run(refqsr, lr, Patches16 with { Threads = threads, Cancellation = before.Token, Progress = reports }));
        Assert.Empty(reports.All);

        // cancelled after the second patch: the run stops with OperationCanceledException,
        // not an AggregateException from the worker threads, before every patch is done
        using var during = new CancellationTokenSource();
        var stopped = new Reports(p => { if (p.PatchesDone == 2) during.Cancel(); });
        var e = Assert.ThrowsAny<OperationCanceledException>(() => Run(refqsr, lr, Patches16 with { Threads = threads, Cancellation = during.Token, Progress = stopped }));
        Assert.Equal(during.Token, e.CancellationToken);
        Assert.True(stopped.All.Count < 6, $"{stopped.All.Count} of 6 patches ran after the cancellation");

        // the pooled buffers of the cut-off patches went back intact
        Assert.Equal(expected, Run(refqsr, lr, Patches16 with { Threads = threads }).Image.Pixels);
    }

    // a progress callback that throws once stands for a patch failing on a worker thread
    [Theory]
    [InlineData(false, 3)]
    [InlineData(true, 3)]
    [InlineData(true, 1)]
    public void AWorkersExceptionComesOutAsItself(bool refqsr, int threads)
    {
        int thrown = 0;
        var failing = new Reports(_ =>
        {
            if (Interlocked.Exchange(ref thrown, 1) == 0) throw new InvalidOperationException("patch failed");
        });
        var e = Assert.Throws<InvalidOperationException>(() => Run(refqsr, Lr(40, 31), Patches16 with { Threads = threads, Progress = failing }));
        Assert.Equal("patch failed", e.Message);
    }

    // ILGPU's CPU accelerator runs the GPU code: batches of patches of one size
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void OnTheGpuPathProgressCountsBatchesAndCancellationStopsBetweenThem(bool refqsr)
    {
        var lr = Lr(27, 16);   // two 16-px patches, 16 and 17 wide: two batches
        var gpu = Patches16 with { Device = ComputeDevice.IlgpuCpu };
        var reports = new Reports();
        var r = Run(refqsr, lr, gpu with { Progress = reports });
        Assert.Equal(2, r.Grid.Patches.Count);
        Assert.Equal([1, 2], reports.All.Select(p => p.PatchesDone));
        Assert.All(reports.All, p => Assert.Equal(2, p.PatchesTotal));

        using var during = new CancellationTokenSource();
        var stopped = new Reports(_ => during.Cancel());
        Assert.ThrowsAny<OperationCanceledException>(() => Run(refqsr, lr, gpu with { Cancellation = during.Token, Progress = stopped }));
        Assert.Single(stopped.All);
        Assert.Equal(r.Image.Pixels, Run(refqsr, lr, gpu).Image.Pixels);
    }

    [Fact]
    public void ACancelledTokenStopsAForwardBeforeItsBlocks()
    {
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        var lr = TestModels.Image(12, 12);
        Assert.ThrowsAny<OperationCanceledException>(() => Plain.Value.Forward(lr, 12, 12, 1, null, null, cts.Token));
        Assert.Equal(48 * 48 * 3, Plain.Value.Forward(lr, 12, 12).Length);
    }
}
