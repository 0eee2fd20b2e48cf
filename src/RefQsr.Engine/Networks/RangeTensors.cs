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

    /// <summary><paramref name="make"/>'s quantizer; its ArgumentException (an unusable
    /// range) becomes a WeightsFormatException naming <paramref name="tensors"/>.</summary>
    public static Quantizer Checked(Func<Quantizer> make, string tensors)
    {
        try { return make(); }
        catch (ArgumentException e) { throw new WeightsFormatException($"{tensors}: {e.Message}"); }
    }
}
