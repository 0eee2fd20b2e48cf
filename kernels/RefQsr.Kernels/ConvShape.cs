namespace RefQsr.Kernels;

/// <summary>Geometry of a stride-1 "same" convolution on one HWC image.</summary>
public readonly record struct ConvShape(int Height, int Width, int InChannels, int OutChannels, int Kernel)
{
    public int Pad => Kernel / 2;
    public int Taps => Kernel * Kernel;
    public int InputLength => checked(Height * Width * InChannels);
    public int OutputLength => checked(Height * Width * OutChannels);
    public int WeightLength => checked(OutChannels * InChannels * Taps);
    public long Macs => (long)Height * Width * InChannels * OutChannels * Taps;

    internal void Validate(int inputLength, int weightLength, int outputLength)
    {
        if (Height <= 0 || Width <= 0) throw new ArgumentException($"conv: image size {Width}x{Height} must be positive");
        if (InChannels <= 0 || OutChannels <= 0) throw new ArgumentException("conv: channel counts must be positive");
        if (Kernel <= 0 || Kernel % 2 == 0) throw new ArgumentException($"conv: kernel {Kernel} must be odd and positive");
        if (inputLength < InputLength) throw new ArgumentException($"conv: input has {inputLength} values, needs {InputLength}");
        if (weightLength < WeightLength) throw new ArgumentException($"conv: weights have {weightLength} values, need {WeightLength}");
        if (outputLength < OutputLength) throw new ArgumentException($"conv: output has {outputLength} values, needs {OutputLength}");
    }
}
