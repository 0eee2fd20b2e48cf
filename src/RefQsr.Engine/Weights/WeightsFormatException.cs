namespace RefQsr.Engine.Weights;

/// <summary>A model file that breaks docs/weights-format.md; the message names the
/// tensor or field at fault.</summary>
public sealed class WeightsFormatException(string message) : Exception(message);
