namespace RefQsr.Engine.Imaging;

/// <summary>
/// MATLAB imresize's contributions(): for each output index, the input indices and
/// normalised weights of its taps (symmetric boundary already applied).
/// </summary>
internal sealed class ResizeContributions
{
    private readonly int[] _indices;
    private readonly double[] _weights;

    public int Taps { get; }

    private ResizeContributions(int taps, int[] indices, double[] weights)
    {
        Taps = taps;
        _indices = indices;
        _weights = weights;
    }

    public int Index(int output, int tap) => _indices[output * Taps + tap];

    public double Weight(int output, int tap) => _weights[output * Taps + tap];

    public static ResizeContributions Compute(int inLength, int outLength, double scale)
    {
        double kernelWidth = 4.0;
        bool antialias = scale < 1.0;
        if (antialias)
            kernelWidth = kernelWidth / scale;
        int taps = (int)Math.Ceiling(kernelWidth) + 2;
        var indices = new int[outLength * taps];
        var weights = new double[outLength * taps];
        var rowWeights = new double[taps];
        long period = 2L * inLength;
        for (int i = 0; i < outLength; i++)
        {
            // 1-based MATLAB coordinates, as in the reference
            double x = (i + 1) / scale + 0.5 * (1.0 - 1.0 / scale);
            long left = (long)Math.Floor(x - kernelWidth / 2.0);
            double total = 0.0;
            for (int k = 0; k < taps; k++)
            {
                double distance = x - (left + k);
                rowWeights[k] = antialias ? scale * Cubic(scale * distance) : Cubic(distance);
            }
            for (int k = 0; k < taps; k++)
                total += rowWeights[k];
            for (int k = 0; k < taps; k++)
            {
                long zeroBased = left + k - 1;
                long mirrored = ((zeroBased % period) + period) % period; // Python's modulo
                if (mirrored >= inLength)
                    mirrored = period - 1 - mirrored;
                indices[i * taps + k] = (int)mirrored;
                weights[i * taps + k] = rowWeights[k] / total;
            }
        }
        return new ResizeContributions(taps, indices, weights);
    }

    /// <summary>Keys cubic, a = -0.5, written exactly as the reference's _cubic.</summary>
    private static double Cubic(double x)
    {
        double ax = Math.Abs(x);
        double ax2 = ax * ax;
        double ax3 = ax2 * ax;
        if (ax <= 1.0)
            return 1.5 * ax3 - 2.5 * ax2 + 1.0;
        if (ax <= 2.0)
            return -0.5 * ax3 + 2.5 * ax2 - 4.0 * ax + 2.0;
        return 0.0;
    }
}
