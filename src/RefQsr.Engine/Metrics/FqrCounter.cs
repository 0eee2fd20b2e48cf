namespace RefQsr.Engine.Metrics;

/// <summary>
/// Feature quantization rate (SPEC §7): per patch, the mean activation bit-width over the
/// quantized convs; per image, the mean of that over its patches (each patch counts once,
/// whatever its size); over a data set, the mean of the image values. Weights are excluded.
/// </summary>
public sealed class FqrCounter
{
    private double _sumOfPatchMeans;

    public int PatchCount { get; private set; }

    /// <summary>The image's FQR: mean over the added patches.</summary>
    public double Fqr => PatchCount == 0
        ? throw new InvalidOperationException("FQR needs at least one patch.")
        : _sumOfPatchMeans / PatchCount;

    /// <summary>Adds one patch given the activation bit-width of each of its quantized convs.</summary>
    public void AddPatch(ReadOnlySpan<int> activationBits)
    {
        if (activationBits.IsEmpty)
            throw new ArgumentException("A patch needs the bit-width of at least one quantized conv.", nameof(activationBits));
        long sum = 0;
        foreach (int bits in activationBits)
        {
            if (bits < 1 || bits > BitOpsCounter.FullPrecisionBits)
                throw new ArgumentException(
                    $"Bit-width must be 1..{BitOpsCounter.FullPrecisionBits}, got {bits}.", nameof(activationBits));
            sum += bits;
        }
        _sumOfPatchMeans += (double)sum / activationBits.Length;
        PatchCount++;
    }

    /// <summary>The data set's FQR: mean over the images' FQRs.</summary>
    public static double MeanOverImages(IEnumerable<double> imageFqrs)
    {
        ArgumentNullException.ThrowIfNull(imageFqrs);
        double sum = 0;
        int count = 0;
        foreach (double fqr in imageFqrs)
        {
            sum += fqr;
            count++;
        }
        return count == 0
            ? throw new ArgumentException("FQR over images needs at least one image.", nameof(imageFqrs))
            : sum / count;
    }
}
