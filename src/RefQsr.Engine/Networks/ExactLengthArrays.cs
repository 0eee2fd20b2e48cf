namespace RefQsr.Engine.Networks;

/// <summary>Float arrays of an exact length, reused from one patch to the next: a patch's head
/// output, residual stream (2.4 MB each at 96 px) and HR output, which would otherwise be fresh
/// large-object-heap arrays, zeroed and paged in, every patch, and would bring on full
/// collections in the host. They cannot come from <see cref="System.Buffers.ArrayPool{T}"/>,
/// whose arrays are rounded up: the network indexes them by their Length (a gated quantizer's
/// channel means run over the whole array). Kept arrays are trimmed as the shared array pool
/// trims its own: at each full collection, those given back more than a minute ago are dropped,
/// and all of them when the machine's memory load is high. Rented arrays are not cleared: every
/// caller writes them in full before reading.</summary>
internal static class ExactLengthArrays
{
    /// <summary>Arrays kept at most, and their total size: a few patches' worth at the sizes
    /// tiling uses, so one whole-image forward of a large image is not kept whole.</summary>
    const int MaxKept = 64;
    const long MaxKeptBytes = 256L << 20;

    /// <summary>How long a kept array may wait to be taken again before a full collection drops
    /// it (settable for tests).</summary>
    internal static long MaxIdleMilliseconds = 60_000;

    readonly record struct Entry(float[] Array, long ReturnedAt);

    static readonly List<Entry> kept = [];
    static long keptBytes;

    static ExactLengthArrays() => FullCollectionCallback.Register(Trim);

    public static float[] Rent(int length)
    {
        lock (kept)
            for (int i = kept.Count - 1; i >= 0; i--)
                if (kept[i].Array.Length == length)
                {
                    var a = kept[i].Array;
                    RemoveAt(i);
                    return a;
                }
        return GC.AllocateUninitializedArray<float>(length);
    }

    /// <summary>Gives <paramref name="array"/> back: the caller must hold no other reference to it.</summary>
    public static void Return(float[] array)
    {
        long bytes = 4L * array.Length;
        if (bytes > MaxKeptBytes) return;
        lock (kept)
        {
            while (kept.Count > 0 && (kept.Count >= MaxKept || keptBytes + bytes > MaxKeptBytes)) RemoveAt(0);
            kept.Add(new Entry(array, Environment.TickCount64));
            keptBytes += bytes;
        }
    }

    static void RemoveAt(int i)
    {
        keptBytes -= 4L * kept[i].Array.Length;
        kept.RemoveAt(i);
    }

    static void Trim()
    {
        var info = GC.GetGCMemoryInfo();
        bool pressure = info.MemoryLoadBytes >= info.HighMemoryLoadThresholdBytes * 9 / 10;
        long now = Environment.TickCount64;
        lock (kept)
            for (int i = kept.Count - 1; i >= 0; i--)
                if (pressure || now - kept[i].ReturnedAt > MaxIdleMilliseconds) RemoveAt(i);
    }
}

/// <summary>Calls an action after every full (generation 2) collection, from the finalizer
/// thread: an unreachable object that re-registers itself for finalization lives in generation
/// 2 and is finalized once per full collection (the pattern the runtime's own pools trim by).</summary>
internal sealed class FullCollectionCallback
{
    readonly Action action;

    FullCollectionCallback(Action action) => this.action = action;

    public static void Register(Action action) => _ = new FullCollectionCallback(action);

    ~FullCollectionCallback()
    {
        if (Environment.HasShutdownStarted) return;
        try { action(); }
        catch (Exception) { /* a trim that fails keeps the arrays; the finalizer thread must not die */ }
        GC.ReRegisterForFinalize(this);
    }
}
