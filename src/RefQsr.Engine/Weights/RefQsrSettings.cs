using System.Text.Json.Nodes;

namespace RefQsr.Engine.Weights;

/// <summary>RefQSR settings of a model (SPEC §4, docs/refqsr.md "Model file"): references
/// run at <see cref="BHigh"/>; queries run block 0 at b_high, blocks 1 ..
/// <see cref="FirstRefEr"/>−1 with b_medium weights and b_low activations, and RefER
/// blocks in place of <see cref="RefErBlocks"/>.</summary>
public sealed record RefQsrSettings(int BHigh, int BLow, int BMedium, double Tau, IReadOnlyList<int> RefErBlocks)
{
    /// <summary>The first block a RefER block replaces (14 in the paper's SRResNet).</summary>
    public int FirstRefEr => RefErBlocks[0];

    /// <summary>round_half_even((b_high + b_low) / 2), the query path's weight bit-width.</summary>
    public static int MediumBits(int bHigh, int bLow) => (int)Math.Round((bHigh + bLow) / 2.0, MidpointRounding.ToEven);

    /// <summary>The query path's low-precision blocks: 1 .. FirstRefEr−1.</summary>
    public bool IsLowBlock(int block) => block >= 1 && block < FirstRefEr;

    internal static RefQsrSettings Parse(JsonObject r, int blocks, QuantizerKind quantizer, int wBits, int aBits)
    {
        int hi = ModelConfig.Int(r, "b_high", 2, 8), lo = ModelConfig.Int(r, "b_low", 2, 8), med = ModelConfig.Int(r, "b_medium", 2, 8);
        if (lo > hi) throw new WeightsFormatException($"config.refqsr: b_low {lo} is above b_high {hi}");
        if (med != MediumBits(hi, lo))
            throw new WeightsFormatException($"config.refqsr.b_medium: {med}, but round_half_even(({hi} + {lo}) / 2) = {MediumBits(hi, lo)}");
        if (quantizer == QuantizerKind.None)
            throw new WeightsFormatException("config.refqsr: a RefQSR model needs quantizer 'ddtb' or 'pams', not 'none'");
        if (wBits != hi || aBits != hi)
            throw new WeightsFormatException($"config.refqsr: w_bits {wBits} and a_bits {aBits} must both equal b_high {hi}");
        double tau = r["tau"] is JsonValue tv && tv.TryGetValue(out double t) && double.IsFinite(t) ? t
            : throw new WeightsFormatException("config.refqsr.tau: missing or not a finite number");
        if (r["refer_blocks"] is not JsonArray ra || ra.Count == 0)
            throw new WeightsFormatException("config.refqsr.refer_blocks: missing or empty");
        var list = new List<int>();
        foreach (var b in ra)
            list.Add(b is JsonValue bv && bv.TryGetValue(out int bi) && bi >= 1 && bi < blocks ? bi
                : throw new WeightsFormatException($"config.refqsr.refer_blocks: entries must be block indices 1..{blocks - 1}"));
        // the schedule runs RefER blocks as the body's last blocks, one after the other
        for (int k = 0; k < list.Count; k++)
            if (list[k] != blocks - list.Count + k)
                throw new WeightsFormatException(
                    $"config.refqsr.refer_blocks: [{string.Join(", ", list)}] must be the last {list.Count} blocks in order ([{string.Join(", ", Enumerable.Range(blocks - list.Count, list.Count))}])");
        return new RefQsrSettings(hi, lo, med, tau, list);
    }
}
