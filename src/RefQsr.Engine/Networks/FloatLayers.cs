using RefQsr.Kernels;

namespace RefQsr.Engine.Networks;

/// <summary>An FP32 conv's weights in PyTorch order [out][in][k][k] and as packed for the
/// CPU kernel (whose layout also tells which summation order the CPU uses).</summary>
internal sealed record FloatConv(float[] WeightsOihw, FloatConvWeights Packed);

/// <summary>SRResNet's FP32 layers outside the body (SPEC §2): head conv + PReLU, body-end
/// conv + BN, two upsampler convs + PReLU, tail conv.</summary>
internal sealed record FloatLayers(FloatConv Head, float HeadSlope, FloatConv BodyEnd, Affine BodyEndBn,
    FloatConv Up0, float Up0Slope, FloatConv Up1, float Up1Slope, FloatConv Tail);
