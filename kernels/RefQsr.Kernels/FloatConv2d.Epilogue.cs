using System.Runtime.Intrinsics;

namespace RefQsr.Kernels;

/// <summary>What follows an FP32 conv, applied per value in this order: x·A[c] + B[c] (BN; a
/// multiply then an add, never fused), PReLU, + residual (the skip; the residual may be the
/// output array itself, updated in place).</summary>
public readonly record struct FloatEpilogue
{
    public float[]? AffineA { get; init; }
    public float[]? AffineB { get; init; }
    public float? PReluSlope { get; init; }
    public float[]? Residual { get; init; }

    internal void Validate(int channels, int length)
    {
        if ((AffineA is null) != (AffineB is null)) throw new ArgumentException("conv epilogue: the affine needs both A and B");
        if (AffineA is not null && (AffineA.Length < channels || AffineB!.Length < channels))
            throw new ArgumentException($"conv epilogue: affine of {AffineA.Length}/{AffineB!.Length} values for {channels} channels");
        if (Residual is not null && Residual.Length < length)
            throw new ArgumentException($"conv epilogue: residual of {Residual.Length} values for {length} outputs");
    }

    /// <summary>The steps as separate passes over a finished conv output.</summary>
    internal void Apply(Span<float> output, int channels)
    {
        for (int i = 0; i < output.Length; i++)
        {
            float v = output[i];
            if (AffineA is not null) { int c = i % channels; v = v * AffineA[c] + AffineB![c]; }
            if (PReluSlope is { } s && !(v > 0f)) v = s * v;
            if (Residual is not null) v = Residual[i] + v;
            output[i] = v;
        }
    }
}

public static partial class FloatConv2d
{
    /// <summary>The conv and its epilogue: on the Winograd path in the same pass (the values
    /// are transformed back and finished in registers), otherwise <see cref="Run"/> then the
    /// steps over the output. The same bits either way, since each value takes the same
    /// operations in the same order.</summary>
    public static unsafe void RunWithEpilogue(ReadOnlySpan<float> input, FloatConvWeights w, float[] output, int height, int width, int threads, FloatEpilogue ops)
    {
        var s = new ConvShape(height, width, w.InChannels, w.OutChannels, w.Kernel);
        s.Validate(input.Length, w.Length, output.Length);
        ops.Validate(w.OutChannels, s.OutputLength);
        if (input.Overlaps(output)) throw new ArgumentException("conv: input and output overlap");
        if (w.Winograd is not null)
        {
            fixed (float* a = ops.AffineA, b = ops.AffineB, o = output, r = ops.Residual)
                WinogradConv(input, w, output, height, width, threads, new SubPixelStore(a, b, ops.PReluSlope, o, r));
            return;
        }
        // the conv must not overwrite a residual it still has to add
        bool inPlace = ReferenceEquals(ops.Residual, output);
        float[] conv = inPlace ? GC.AllocateUninitializedArray<float>(s.OutputLength) : output;
        Run(input, w, conv, height, width, threads);
        ops.Apply(conv.AsSpan(0, s.OutputLength), w.OutChannels);
        if (inPlace) conv.AsSpan(0, s.OutputLength).CopyTo(output);
    }
}
