using RefQsr.Kernels.Gpu;

namespace RefQsr.Engine.Tests.Gpu;

/// <summary>The CUDA instantiation of every kernel compiles to PTX (sm_90) on a machine with
/// no GPU, and carries the inline PTX that makes it exact: dp4a for the integer conv,
/// fma.rn for the FP32 conv, mul.rn/add.rn where the CPU rounds twice, cvt.rni for round half
/// to even; no undefined external function (the tiled conv's dynamic shared memory is an
/// <c>.extern .shared</c> array, as CUDA requires).</summary>
public sealed class PtxTests
{
    static readonly Lazy<IReadOnlyDictionary<string, string>> ptx = new(() => PtxCompiler.CompileAll());

    [Fact]
    public void EveryKernelCompilesWithoutExternalCalls()
    {
        Assert.Equal(PtxCompiler.Kernels().Count(), ptx.Value.Count);
        foreach (var (name, text) in ptx.Value)
        {
            Assert.Contains(".entry", text);
            Assert.DoesNotContain(".extern .func", text);
            Assert.True(!text.Contains("call", StringComparison.Ordinal), $"{name} calls a function");
        }
    }

    [Theory]
    [InlineData("QuantConvKernels.Accumulate", "dp4a.u32.s32")]
    [InlineData("QuantConvTiledKernel.Accumulate", "dp4a.u32.s32")]
    [InlineData("QuantConvTiledKernel.Accumulate", "bar.sync")]
    [InlineData("QuantConvTiledKernel.Accumulate", ".shared")]
    [InlineData("QuantConvKernels.Epilogue", "add.rn.f32")]
    [InlineData("QuantConvKernels.Epilogue", "mul.rn.f32")]
    [InlineData("QuantizeKernels.Quantize", "cvt.rni.f32.f32")]
    [InlineData("QuantizeKernels.Quantize", "mul.rn.f32")]
    [InlineData("QuantizeKernels.Quantize", "add.rn.f32")]
    [InlineData("QuantizeKernels.ChannelMeans", "div.rn.f64")]
    [InlineData("FloatConvKernels.Conv", "fma.rn.f32")]
    [InlineData("ElementwiseKernels.Affine", "add.rn.f32")]
    [InlineData("ElementwiseKernels.PRelu", "mul.rn.f32")]
    [InlineData("ElementwiseKernels.Add", "add.rn.f32")]
    [InlineData("ElementwiseKernels.SubtractFrom", "sub.rn.f32")]
    [InlineData("MatchCodeKernels.PixelNorms", "mul.rn.f64")]
    [InlineData("MatchCodeKernels.PixelNorms", "add.rn.f64")]
    [InlineData("MatchCodeKernels.PixelNorms", "sqrt.rn.f64")]
    [InlineData("MatchCodeKernels.PooledCodes", "div.rn.f32")]
    [InlineData("MatchCodeKernels.PooledCodes", "div.rn.f64")]
    [InlineData("MatchCodeKernels.PooledCodes", "add.rn.f64")]
    [InlineData("MatchCodeKernels.PooledCodes", "cvt.rni.f32.f32")]
    [InlineData("CostVolumeKernel.Argmax", "dp4a.s32.s32")]
    [InlineData("FlowKernels.Upsample", "mul.rn.f32")]
    [InlineData("FlowKernels.Upsample", "div.rn.f32")]
    [InlineData("WarpKernel.Warp", "cvt.rmi.f32.f32")]
    [InlineData("WarpKernel.Warp", "sub.rn.f32")]
    [InlineData("ClustBlockKernels.Quantize", "cvt.rni.f32.f32")]
    [InlineData("ClustBlockKernels.Conv", "mul.rn.f32")]
    [InlineData("ClustBlockKernels.Conv", "add.rn.f32")]
    public void KernelCarriesItsInstruction(string kernel, string instruction)
        => Assert.Contains(instruction, ptx.Value[kernel]);

    [Theory]
    [InlineData("QuantizeKernels.Quantize")]
    [InlineData("ElementwiseKernels.Affine")]
    [InlineData("FloatConvKernels.Conv")]
    [InlineData("MatchCodeKernels.PixelNorms")]
    [InlineData("MatchCodeKernels.PooledCodes")]
    [InlineData("FlowKernels.Upsample")]
    [InlineData("WarpKernel.Warp")]
    [InlineData("ClustBlockKernels.Quantize")]
    [InlineData("ClustBlockKernels.Conv")]
    public void NoFloatOpThatPtxasCouldContract(string kernel)
    {
        // a plain mul.f32 next to an add could become an FMA the CPU does not perform
        Assert.DoesNotContain("mul.f32", ptx.Value[kernel]);
        Assert.DoesNotContain("add.f32", ptx.Value[kernel]);
        Assert.DoesNotContain("sub.f32", ptx.Value[kernel]);
        Assert.DoesNotContain("mul.f64", ptx.Value[kernel]);
        Assert.DoesNotContain("add.f64", ptx.Value[kernel]);
    }
}
