using RefQsr.Engine.Quantization;
using RefQsr.Engine.Weights;

namespace RefQsr.Engine.Networks;

/// <summary>Quantizers made from a model file's range tensors. A range no quantizer can use
/// (empty, or so narrow that the scale overflows) is a broken model file, so it is reported
/// as one, naming the tensors, when the model loads rather than when an image runs.
/// Callers check at 8 bits: the widest code range gives the largest scale, so a range that
/// passes there passes at every narrower bit-width the model is quantized to.</summary>
internal static class RangeTensors
{
    public const int WidestBits = 8;

    public static Quantizer Asymmetric(float lo, float hi, int bits, string tensors)
    {
        try { return Quantizer.Asymmetric(lo, hi, bits); }
        catch (ArgumentException e) { throw new WeightsFormatException($"{tensors}: {e.Message}"); }
    }

    public static Quantizer Symmetric(float alpha, int bits, string tensors)
    {
        try { return Quantizer.Symmetric(alpha, bits); }
        catch (ArgumentException e) { throw new WeightsFormatException($"{tensors}: {e.Message}"); }
    }
}
