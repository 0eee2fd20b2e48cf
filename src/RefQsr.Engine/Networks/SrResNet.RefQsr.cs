using RefQsr.Engine.Diagnostics;
using RefQsr.Engine.RefQsr;
using RefQsr.Engine.Weights;

namespace RefQsr.Engine.Networks;

/// <summary>The two per-patch paths of a RefQSR model (docs/refqsr.md "Per patch").</summary>
public sealed partial class SrResNet
{
    /// <summary>A reference patch's features kept for its queries: its input to each RefER
    /// block (block j of refer_blocks), at its own size.</summary>
    internal sealed record ReferenceFeatures(int Height, int Width, IReadOnlyList<float[]> RefErInputs)
    {
        readonly sbyte[]?[] pooled = new sbyte[]?[RefErInputs.Count];

        /// <summary>RefER steps 1–3 on the input to RefER block <paramref name="k"/>, made once
        /// for all the reference's queries (which may run on several threads: a race only
        /// computes the same codes twice); null where the reference has no pooled grid.</summary>
        public sbyte[]? PooledCodes(int k, int channels, int bits)
            => RefErMatching.PooledSize(Height) == 0 || RefErMatching.PooledSize(Width) == 0 ? null
               : pooled[k] ??= RefErMatching.PooledCodes(RefErInputs[k], Height, Width, channels, bits);

        /// <summary>Gives the kept inputs back to <see cref="ExactLengthArrays"/> once no query
        /// will read them.</summary>
        public void GiveBack()
        {
            foreach (var input in RefErInputs) ExactLengthArrays.Return(input);
        }
    }

    RefQsrSettings Settings => Config.RefQsr ?? throw new InvalidOperationException($"{Config.Describe()} is not a RefQSR model");

    /// <summary>Reference path: every block at b_high with the standard quantizers (the same
    /// arithmetic as <see cref="Forward"/>); also returns the inputs to the RefER blocks.</summary>
    internal (float[] Hr, ReferenceFeatures Features) ForwardReference(ReadOnlySpan<float> lr, int h, int w, int threads, ForwardTrace? trace = null, StageTimes? times = null,
        CancellationToken cancellation = default)
    {
        var s = Settings;
        var (headOut, x) = HeadAndStream(lr, h, w, threads, times);
        var kept = new float[s.RefErBlocks.Count][];
        var prec = new BlockPrecision(s.BHigh, s.BHigh);
        using (StageTimes.Time(times, StageTimes.Body))
            RunBlocks(x, h, w, 0, Blocks.Length, _ => (prec, QuantizerSet.Standard), threads, trace, (i, input) =>
            {
                int k = i - s.FirstRefEr;
                if (k < 0) return;
                kept[k] = ExactLengthArrays.Rent(input.Length);
                input.CopyTo(kept[k], 0);
            }, cancellation);
        var hr = BodyEndAndTail(x, headOut, h, w, threads, times, cancellation);
        ReturnFeatures(headOut, x);
        return (hr, new ReferenceFeatures(h, w, kept));
    }

    /// <summary>Query path: block 0 at b_high (standard quantizers), blocks 1 .. FirstRefEr−1
    /// with b_medium weights and b_low activations (qlow), then the RefER blocks against
    /// the reference's kept features.</summary>
    internal float[] ForwardQuery(ReadOnlySpan<float> lr, int h, int w, ReferenceFeatures reference, int threads, ForwardTrace? trace = null, StageTimes? times = null,
        CancellationToken cancellation = default)
    {
        var s = Settings;
        var (headOut, x) = HeadAndStream(lr, h, w, threads, times);
        var high = new BlockPrecision(s.BHigh, s.BHigh);
        var low = new BlockPrecision(s.BMedium, s.BLow);
        using (StageTimes.Time(times, StageTimes.Body))
            RunBlocks(x, h, w, 0, s.FirstRefEr, i => i == 0 ? (high, QuantizerSet.Standard) : (low, QuantizerSet.QueryLow), threads, trace, cancellation: cancellation);
        using (StageTimes.Time(times, StageTimes.RefEr))
            for (int k = 0; k < RefEr.Length; k++)
            {
                cancellation.ThrowIfCancellationRequested();
                RefEr[k].Forward(x, h, w, reference.RefErInputs[k], reference.Height, reference.Width, s.BHigh, s.BLow, threads, trace,
                    reference.PooledCodes(k, Config.Channels, s.BLow));
            }
        var hr = BodyEndAndTail(x, headOut, h, w, threads, times, cancellation);
        ReturnFeatures(headOut, x);
        return hr;
    }
}
