namespace RefQsr.Engine.Metrics;

/// <summary>The networks whose quantized convs the complexity metrics count.</summary>
public enum SrNetwork
{
    /// <summary>32 quantized 3x3 64→64 convs (16 ResBlocks x 2).</summary>
    SrResNet,

    /// <summary>18 quantized 3x3 64→64 convs (9 residual blocks x 2).</summary>
    Carn,
}
