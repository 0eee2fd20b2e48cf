using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace RefQsr.Kernels;

public static partial class FloatConv2d
{
    /// <summary><see cref="RgbPixelVectorRows256"/> with the cross-platform Vector128 API (CPUs
    /// without AVX2 and FMA: ARM64, older x64): 4 neighbouring output pixels per vector, four
    /// rows x three channels per half pass (12 sums), each output's FMAs in the same (ci, ky,
    /// kx) order, so the fused upsampler-and-tail pass and the separate tail give the same bits
    /// here too. (The tail's row Winograd, which AVX2 and AVX-512 take, sums in another order:
    /// these CPUs' HR values differ from theirs by float rounding.)</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static unsafe void RgbPixelVectorRows128(float* pin, int plane, ChwRowMap map, float* pw3, int cin, int k, float* pout, int width, int y0, int y1)
    {
        const int Lanes = 4, Half = 4;
        var lane = stackalloc float[Lanes * 3 * Half];
        var rowAt = stackalloc int[RgbRowsPerPass + k];
        for (int y = y0; y < y1; y += RgbRowsPerPass)
        {
            // rows past the last compute a duplicate of the last row and are dropped
            int rows = Math.Min(RgbRowsPerPass, y1 - y);
            for (int i = 0; i < RgbRowsPerPass + k - 1; i++) rowAt[i] = map.Offset(y + Math.Min(i, rows + k - 2));
            for (int h = 0; h < rows; h += Half)
                for (int x = 0; x < width; x += Lanes)
                {
                    Vector128<float> a00 = default, a01 = default, a02 = default;
                    Vector128<float> a10 = default, a11 = default, a12 = default;
                    Vector128<float> a20 = default, a21 = default, a22 = default;
                    Vector128<float> a30 = default, a31 = default, a32 = default;
                    float* wt = pw3;
                    for (int ci = 0; ci < cin; ci++)
                        for (int ky = 0; ky < k; ky++)
                        {
                            float* p = pin + ci * plane + x;
                            float* row0 = p + rowAt[h + ky];
                            float* row1 = p + rowAt[h + ky + 1];
                            float* row2 = p + rowAt[h + ky + 2];
                            float* row3 = p + rowAt[h + ky + 3];
                            for (int kx = 0; kx < k; kx++, wt += 3)
                            {
                                var w0 = Vector128.Create(wt[0]); var w1 = Vector128.Create(wt[1]); var w2 = Vector128.Create(wt[2]);
                                var v0 = Vector128.Load(row0 + kx);
                                a00 = Vector128.FusedMultiplyAdd(v0, w0, a00); a01 = Vector128.FusedMultiplyAdd(v0, w1, a01); a02 = Vector128.FusedMultiplyAdd(v0, w2, a02);
                                var v1 = Vector128.Load(row1 + kx);
                                a10 = Vector128.FusedMultiplyAdd(v1, w0, a10); a11 = Vector128.FusedMultiplyAdd(v1, w1, a11); a12 = Vector128.FusedMultiplyAdd(v1, w2, a12);
                                var v2 = Vector128.Load(row2 + kx);
                                a20 = Vector128.FusedMultiplyAdd(v2, w0, a20); a21 = Vector128.FusedMultiplyAdd(v2, w1, a21); a22 = Vector128.FusedMultiplyAdd(v2, w2, a22);
                                var v3 = Vector128.Load(row3 + kx);
                                a30 = Vector128.FusedMultiplyAdd(v3, w0, a30); a31 = Vector128.FusedMultiplyAdd(v3, w1, a31); a32 = Vector128.FusedMultiplyAdd(v3, w2, a32);
                            }
                        }
                    a00.Store(lane + 0); a01.Store(lane + 4); a02.Store(lane + 8);
                    a10.Store(lane + 12); a11.Store(lane + 16); a12.Store(lane + 20);
                    a20.Store(lane + 24); a21.Store(lane + 28); a22.Store(lane + 32);
                    a30.Store(lane + 36); a31.Store(lane + 40); a32.Store(lane + 44);
                    int n = Math.Min(Lanes, width - x);
                    for (int r = 0; r < Math.Min(Half, rows - h); r++)
                    {
                        float* dst = pout + ((y + h + r) * width + x) * 3;
                        for (int i = 0; i < n; i++)
                        {
                            dst[i * 3] = lane[r * 12 + i];
                            dst[i * 3 + 1] = lane[r * 12 + 4 + i];
                            dst[i * 3 + 2] = lane[r * 12 + 8 + i];
                        }
                    }
                }
        }
    }
}
