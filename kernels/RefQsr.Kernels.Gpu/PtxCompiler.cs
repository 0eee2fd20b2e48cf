using System.Diagnostics.CodeAnalysis;
using System.Reflection;
using ILGPU;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;

namespace RefQsr.Kernels.Gpu;

/// <summary>Compiles every kernel to PTX with its CUDA instantiation, without a GPU: lets a
/// machine with no CUDA device check that the CUDA code paths compile and carry the inline
/// PTX they should (dp4a, fma.rn, ...).</summary>
public static class PtxCompiler
{
    /// <summary>The kernels as (name, method) with TMath = <see cref="CudaMath"/>.</summary>
    [RequiresDynamicCode(GpuDevice.NeedsJit), RequiresUnreferencedCode("finds the kernels by reflection")]
    public static IEnumerable<(string Name, MethodInfo Method)> Kernels()
    {
        foreach (var type in new[] { typeof(QuantConvKernels), typeof(QuantizeKernels), typeof(FloatConvKernels), typeof(ElementwiseKernels), typeof(QuantConvTiledKernel),
            typeof(MatchCodeKernels), typeof(CostVolumeKernel), typeof(FlowKernels), typeof(WarpKernel), typeof(ClustBlockKernels) })
            foreach (var m in type.GetMethods(BindingFlags.Public | BindingFlags.Static).Where(m => m.DeclaringType == type && m.ReturnType == typeof(void)))
                yield return ($"{type.Name}.{m.Name}", m.IsGenericMethodDefinition ? m.MakeGenericMethod(typeof(CudaMath)) : m);
    }

    /// <summary>PTX of every kernel for <paramref name="architecture"/> (default sm_90, PTX ISA 7.8).</summary>
    [RequiresDynamicCode(GpuDevice.NeedsJit), RequiresUnreferencedCode("finds the kernels by reflection")]
    public static IReadOnlyDictionary<string, string> CompileAll(CudaArchitecture? architecture = null)
    {
        using var context = Context.Create(b => b.Optimize(OptimizationLevel.O1));
        using var backend = new PTXBackend(context, architecture ?? CudaArchitecture.SM_90, new CudaInstructionSet(7, 8), null!);
        var result = new Dictionary<string, string>();
        foreach (var (name, method) in Kernels())
        {
            var entry = method.DeclaringType == typeof(QuantConvTiledKernel)
                ? EntryPointDescription.FromExplicitlyGroupedKernel(method)
                : EntryPointDescription.FromImplicitlyGroupedKernel(method);
            var compiled = (PTXCompiledKernel)backend.Compile(entry, default(KernelSpecialization));
            result[name] = compiled.PTXAssembly;
        }
        return result;
    }
}
