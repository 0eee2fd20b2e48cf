namespace RefQsr.Engine;

/// <summary>A model whose arithmetic fails on an input: its float arithmetic overflowed
/// (NaN in a patch's output, non-finite ClustBlock logits) or its DDTB gate emptied a
/// quantizer's range. The model is at fault, not the caller's arguments; the message names
/// the patch or the quantizer.</summary>
public sealed class ModelArithmeticException(string message, Exception? inner = null) : ArithmeticException(message, inner);
