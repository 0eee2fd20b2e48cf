using System.Diagnostics;
using System.Runtime.CompilerServices;
using RefQsr.Engine.Diagnostics;
using RefQsr.Engine.Gpu;
using RefQsr.Engine.Imaging;
using RefQsr.Engine.Metrics;
using RefQsr.Engine.Networks;
using RefQsr.Engine.RefQsr;
using RefQsr.Engine.Tiling;
using RefQsr.Kernels.Gpu;

namespace RefQsr.Engine.Inference;

/// <summary>The RefQSR schedule (docs/refqsr.md): tile, run the ClustBlock on every patch,
/// pair the patches, run the references as one batch (b_high, keeping their inputs to the
/// RefER blocks), then the queries as one batch (low-precision blocks and RefER against
/// their reference), and merge. A batch runs its patches concurrently when there are at
/// least as many patches as threads, else one after the other with each conv's rows
/// split; every patch is computed by the same arithmetic either way, so the output does
/// not depend on the thread count. With a GPU device (<see cref="UpscaleOptions.Device"/>)
/// the ClustBlock, the references and the queries run on the device
/// (<see cref="DeviceClustBlock"/>, <see cref="GpuRefQsrSchedule"/>); the pairing, from the
/// patches' logits, on the host.</summary>
public sealed class RefQsrUpscaler
{
    public SrResNet Network { get; }
    public ClustBlock ClustBlock { get; }
    public int Scale => Network.Config.Scale;

    public RefQsrUpscaler(SrResNet network, ClustBlock clustBlock)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(clustBlock);
        if (network.Config.RefQsr is null)
            throw new ArgumentException($"RefQSR inference needs a RefQSR model; {network.Config.Describe()} has no 'refqsr' config");
        Network = network;
        ClustBlock = clustBlock;
    }

    public UpscaleResult Run(RgbImage lr, UpscaleOptions options) => Run(lr, options, null);

    /// <summary><paramref name="clusters"/> replaces the ClustBlock's pairing (tests).</summary>
    internal UpscaleResult Run(RgbImage lr, UpscaleOptions options, ClusterAssignment? clusters)
    {
        ArgumentNullException.ThrowIfNull(lr);
        options.Validate();
        ComputeDevices.Check(options.Device, Network.Config);
        var sw = Stopwatch.StartNew();
        var grid = Grid(lr, options);
        var run = new PatchRun(options, grid.Patches.Count);
        float[][] hrPatches;
        string device = "cpu";
        if (RuntimeFeature.IsDynamicCodeSupported && GpuBackends.Resolve(options.Device, Network) is { } backend)
        {
            // the stage split is a CPU profile: a device run is not split
            var gpu = GpuBackends.For(Network, backend);
            device = $"{(backend == GpuBackend.Cuda ? "cuda" : "ilgpu-cpu")} ({gpu.Device.Name})";
            run.ThrowIfCancelled();
            clusters ??= Cluster(lr, grid, GpuBackends.For(ClustBlock, backend), options.Tau ?? Network.Config.RefQsr!.Tau);
            hrPatches = GpuRefQsrSchedule.Run(gpu, lr, grid, clusters, run);
        }
        else
        {
            run.ThrowIfCancelled();
            using (StageTimes.Time(options.Profile, StageTimes.ClustBlock))
                clusters ??= Cluster(lr, grid, options.Threads, options.Tau);
            var pairing = clusters;
            hrPatches = run.Cancellable(() => RunPatches(lr, grid, pairing, options.Threads, options.Profile, run));
        }
        var hr = new RgbImage(checked(lr.Width * Scale), checked(lr.Height * Scale));
        for (int i = 0; i < hrPatches.Length; i++) PatchMerger.WritePatch(hr, grid.Patches[i], Scale, hrPatches[i]);
        if (device == "cpu")
            foreach (var patch in hrPatches) ExactLengthArrays.Return(patch);
        var (bitOps, fqr) = Cost(grid, clusters);
        return new UpscaleResult(hr, grid, bitOps, fqr, sw.Elapsed) { Clusters = clusters, Device = device };
    }

    public static PatchGrid Grid(RgbImage lr, UpscaleOptions options)
        => options.FullImage ? PatchGrid.FullImage(lr.Width, lr.Height) : PatchGrid.Create(lr.Width, lr.Height, options.PatchSize);

    /// <summary>ClustBlock logits of every patch, then the pairing at <paramref name="tau"/>
    /// (the model's own when null).</summary>
    public ClusterAssignment Cluster(RgbImage lr, PatchGrid grid, int threads, double? tau = null)
    {
        if (tau is { } t0 && !(t0 >= -1 && t0 <= 1)) throw new ArgumentException($"tau is a cosine threshold in -1..1, got {t0}");
        var logits = new float[grid.Patches.Count][];
        ForEach(grid.Patches.Count, threads, (i, t) =>
        {
            var p = grid.Patches[i];
            logits[i] = ClustBlock.Logits(Upscaler.ToFloats(lr, p.X, p.Y, p.Width, p.Height), p.Height, p.Width, t);
        });
        return Assign(logits, grid, tau ?? Network.Config.RefQsr!.Tau);
    }

    /// <summary>As <see cref="Cluster(RgbImage, PatchGrid, int, double?)"/>, the logits computed on the device.</summary>
    static ClusterAssignment Cluster(RgbImage lr, PatchGrid grid, DeviceClustBlock clustBlock, double tau)
        => Assign(grid.Patches.Select(p => clustBlock.Logits(Upscaler.ToFloats(lr, p.X, p.Y, p.Width, p.Height), p.Height, p.Width)).ToList(), grid, tau);

    /// <summary>Non-finite logits of a ClustBlock fed bytes mean its arithmetic overflowed:
    /// reported as the model's fault, naming the patch, not as a bad argument.</summary>
    static ClusterAssignment Assign(IReadOnlyList<float[]> logits, PatchGrid grid, double tau)
    {
        for (int i = 0; i < logits.Count; i++)
            if (Array.FindIndex(logits[i], v => !float.IsFinite(v)) is var at and >= 0)
            {
                var p = grid.Patches[i];
                float bad = logits[i][at];
                throw new ModelArithmeticException($"the ClustBlock's logits for patch ({p.Row}, {p.Column}) (LR {p.Width}x{p.Height} at {p.X}, {p.Y}) " +
                    $"hold {bad}: its arithmetic overflowed on this input, which points to a corrupt or badly trained ClustBlock model");
            }
        return PatchClustering.Assign(logits, tau);
    }

    /// <summary>BitOPs (G) and FQR of this pairing on this grid (docs/refqsr.md "Complexity").</summary>
    public (double GigaBitOps, double Fqr) Cost(PatchGrid grid, ClusterAssignment clusters)
    {
        var (bitOps, fqr) = RefQsrComplexity.Compute(Network.Config, ClustBlock.Classes, grid, clusters);
        return (bitOps.GigaBitOps, fqr.Fqr);
    }

    /// <summary>The float HR patches, in grid order: references first (as a batch), then queries.</summary>
    internal float[][] RunPatches(RgbImage lr, PatchGrid grid, ClusterAssignment clusters, int threads, StageTimes? times = null, PatchRun? run = null)
    {
        if (clusters.PatchCount != grid.Patches.Count)
            throw new ArgumentException($"the clusters cover {clusters.PatchCount} patches, the grid has {grid.Patches.Count}");
        var hr = new float[grid.Patches.Count][];
        var features = new SrResNet.ReferenceFeatures?[grid.Patches.Count];
        var refs = clusters.References;
        var queries = clusters.Queries;
        var needed = new bool[grid.Patches.Count];   // keep features only for references with queries
        foreach (int q in queries) needed[clusters.ReferenceOf[q]] = true;
        var token = run?.Token ?? default;
        void Reference(int i, int t)
        {
            token.ThrowIfCancellationRequested();
            var p = grid.Patches[i];
            var (output, kept) = Network.ForwardReference(Upscaler.ToFloats(lr, p.X, p.Y, p.Width, p.Height), p.Height, p.Width, t, null, times, token);
            hr[i] = output;
            if (needed[i]) features[i] = kept;
            else kept.GiveBack();
            run?.Finished();
        }
        void Query(int i, int t)
        {
            token.ThrowIfCancellationRequested();
            var p = grid.Patches[i];
            hr[i] = Network.ForwardQuery(Upscaler.ToFloats(lr, p.X, p.Y, p.Width, p.Height), p.Height, p.Width,
                features[clusters.ReferenceOf[i]]!, t, null, times, token);
            run?.Finished();
        }
        if (threads > 1 && refs.Count >= threads)
            RunInOrder(refs, queries, clusters.ReferenceOf, grid.Patches.Count, threads, Reference, Query);
        else
        {
            ForEach(refs.Count, threads, (k, t) => Reference(refs[k], t));
            ForEach(queries.Count, threads, (k, t) => Query(queries[k], t));
        }
        foreach (var f in features) f?.GiveBack();
        return hr;
    }

    /// <summary>One patch per thread, taken in order from one stream of every reference then
    /// every query: a query waits only for its own reference, not for the whole reference
    /// batch, so no thread idles at the batch boundary (3 references on 2 threads used to
    /// leave one idle for a whole patch). Each patch is computed exactly as in the batch
    /// order, so the output is the same bytes.</summary>
    static void RunInOrder(IReadOnlyList<int> refs, IReadOnlyList<int> queries, IReadOnlyList<int> referenceOf, int patchCount, int threads,
        Action<int, int> reference, Action<int, int> query)
    {
        var done = new ManualResetEventSlim?[patchCount];
        var failed = new bool[patchCount];
        foreach (int r in refs) done[r] = new ManualResetEventSlim(false);
        try
        {
            var order = refs.Select(i => (Index: i, IsReference: true)).Concat(queries.Select(i => (Index: i, IsReference: false))).ToArray();
            Parallel.ForEach(System.Collections.Concurrent.Partitioner.Create(order, System.Collections.Concurrent.EnumerablePartitionerOptions.NoBuffering),
                new ParallelOptions { MaxDegreeOfParallelism = threads }, item =>
                {
                    if (item.IsReference)
                    {
                        try { reference(item.Index, 1); }
                        catch { failed[item.Index] = true; throw; }
                        finally { done[item.Index]!.Set(); }
                        return;
                    }
                    int r = referenceOf[item.Index];
                    done[r]!.Wait();
                    if (!failed[r]) query(item.Index, 1);   // a failed reference's exception is the one reported
                });
        }
        finally
        {
            foreach (var e in done) e?.Dispose();
        }
    }

    // body(index, threads inside the item)
    static void ForEach(int count, int threads, Action<int, int> body)
    {
        if (threads > 1 && count >= threads)
            Parallel.For(0, count, new ParallelOptions { MaxDegreeOfParallelism = threads }, i => body(i, 1));
        else
            for (int i = 0; i < count; i++) body(i, threads);
    }
}
