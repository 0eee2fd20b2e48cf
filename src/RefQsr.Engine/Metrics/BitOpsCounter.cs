namespace RefQsr.Engine.Metrics;

/// <summary>
/// Accumulates BitOPs (SPEC §7): each conv adds 2 * MACs * (b_w/32) * (b_a/32); an FP32
/// conv (32/32 bits) therefore adds its FLOPs. Kept as an exact integer sum of
/// MACs * b_w * b_a so the order in which convs are added cannot change the result.
/// </summary>
public sealed class BitOpsCounter
{
    public const int FullPrecisionBits = 32;

    private Int128 _bitWeightedMacs;

    /// <summary>Plain multiply-accumulates added so far, regardless of bit-width.</summary>
    public long Macs { get; private set; }

    public double BitOps => (double)(_bitWeightedMacs * 2) / (FullPrecisionBits * FullPrecisionBits);

    public double GigaBitOps => BitOps / 1e9;

    /// <summary>Adds one conv (or any multiply-accumulate workload, e.g. the RefER cost volume).</summary>
    public void AddConv(long macs, int weightBits, int activationBits) => AddConvs(1, macs, weightBits, activationBits);

    /// <summary>Adds <paramref name="count"/> identical convs.</summary>
    public void AddConvs(int count, long macs, int weightBits, int activationBits)
    {
        if (count < 0)
            throw new ArgumentException($"Conv count must not be negative, got {count}.", nameof(count));
        if (macs < 0)
            throw new ArgumentException($"MACs must not be negative, got {macs}.", nameof(macs));
        CheckBits(weightBits, nameof(weightBits));
        CheckBits(activationBits, nameof(activationBits));
        Macs = checked(Macs + count * macs);
        _bitWeightedMacs += (Int128)count * macs * weightBits * activationBits;
    }

    /// <summary>Adds everything another counter holds (e.g. one patch's items into an image total).</summary>
    public void Add(BitOpsCounter other)
    {
        ArgumentNullException.ThrowIfNull(other);
        Macs = checked(Macs + other.Macs);
        _bitWeightedMacs += other._bitWeightedMacs;
    }

    private static void CheckBits(int bits, string name)
    {
        if (bits < 1 || bits > FullPrecisionBits)
            throw new ArgumentException($"Bit-width must be 1..{FullPrecisionBits}, got {bits}.", name);
    }
}
