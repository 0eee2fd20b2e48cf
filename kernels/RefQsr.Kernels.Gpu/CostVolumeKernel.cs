using ILGPU;

namespace RefQsr.Kernels.Gpu;

/// <summary>RefER step 4 on the device, the twin of <c>ArgmaxCostVolume</c>: for every pooled
/// query position, the reference position with the largest dot product of signed b_low
/// codes, ties to the lowest index. One thread per query position runs over the reference
/// rows in ascending order with a strict comparison, so the nq x nr volume never exists and
/// ties resolve as on the CPU; the threads of a warp read the same reference row at once
/// (one broadcast load). Exact int32 arithmetic (dp4a.s32.s32 on CUDA).</summary>
public static class CostVolumeKernel
{
    /// <summary>query: [nq][C/4] packed codes; reference: [nr][C/4]; argmax gets nq indices.</summary>
    public static void Argmax<TMath>(Index1D i, ArrayView<int> query, ArrayView<int> reference, ArrayView<int> argmax, int words, int referencePositions)
        where TMath : struct, IDeviceMath
    {
        int q0 = i * words;
        int best = 0, bestCost = 0;
        for (int j = 0; j < referencePositions; j++)
        {
            int r0 = j * words, cost = 0;
            for (int g = 0; g < words; g++) cost = default(TMath).Dot4Signed(query[q0 + g], reference[r0 + g], cost);
            if (j == 0 || cost > bestCost) { bestCost = cost; best = j; }
        }
        argmax[i] = best;
    }
}
