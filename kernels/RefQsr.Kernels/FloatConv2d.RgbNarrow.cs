using System.Runtime.CompilerServices;

namespace RefQsr.Kernels;

public static partial class FloatConv2d
{
    /// <summary><see cref="RgbPixelVectorRows"/> in registers narrower than AVX-512's, written once
    /// for both (<see cref="IFloatVector{TV}"/>: 8 pixels per vector with AVX2 and FMA, 4 with
    /// Vector128 elsewhere). Each pass of eight rows goes in two halves of four rows x three
    /// channels (12 sums, the three weight broadcasts and an input load: AVX2's 16 registers).
    /// Every output's FMAs run in the same (ci, ky, kx) order as there, so the fused
    /// upsampler-and-tail pass and the separate tail give the same bits.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static unsafe void RgbPixelVectorRowsNarrow<TOps, TV>(float* pin, int plane, ChwRowMap map, float* pw3, int cin, int k, float* pout, int width, int y0, int y1)
        where TOps : IFloatVector<TV> where TV : unmanaged
    {
        const int Half = 4;
        int lanes = TOps.Count;
        var lane = stackalloc float[8 * 3 * Half];   // up to 8 lanes x 3 channels x 4 rows
        var rowAt = stackalloc int[RgbRowsPerPass + k];
        for (int y = y0; y < y1; y += RgbRowsPerPass)
        {
            // rows past the last compute a duplicate of the last row and are dropped
            int rows = Math.Min(RgbRowsPerPass, y1 - y);
            for (int i = 0; i < RgbRowsPerPass + k - 1; i++) rowAt[i] = map.Offset(y + Math.Min(i, rows + k - 2));
            for (int h = 0; h < rows; h += Half)
                for (int x = 0; x < width; x += lanes)
                {
                    TV a00 = default, a01 = default, a02 = default;
                    TV a10 = default, a11 = default, a12 = default;
                    TV a20 = default, a21 = default, a22 = default;
                    TV a30 = default, a31 = default, a32 = default;
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
                                var w0 = TOps.Broadcast(wt[0]); var w1 = TOps.Broadcast(wt[1]); var w2 = TOps.Broadcast(wt[2]);
                                var v0 = TOps.Load(row0 + kx);
                                a00 = TOps.Fma(v0, w0, a00); a01 = TOps.Fma(v0, w1, a01); a02 = TOps.Fma(v0, w2, a02);
                                var v1 = TOps.Load(row1 + kx);
                                a10 = TOps.Fma(v1, w0, a10); a11 = TOps.Fma(v1, w1, a11); a12 = TOps.Fma(v1, w2, a12);
                                var v2 = TOps.Load(row2 + kx);
                                a20 = TOps.Fma(v2, w0, a20); a21 = TOps.Fma(v2, w1, a21); a22 = TOps.Fma(v2, w2, a22);
                                var v3 = TOps.Load(row3 + kx);
                                a30 = TOps.Fma(v3, w0, a30); a31 = TOps.Fma(v3, w1, a31); a32 = TOps.Fma(v3, w2, a32);
                            }
                        }
                    // lane[(r·3 + co)·lanes + i]
                    TOps.Store(a00, lane); TOps.Store(a01, lane + lanes); TOps.Store(a02, lane + 2 * lanes);
                    TOps.Store(a10, lane + 3 * lanes); TOps.Store(a11, lane + 4 * lanes); TOps.Store(a12, lane + 5 * lanes);
                    TOps.Store(a20, lane + 6 * lanes); TOps.Store(a21, lane + 7 * lanes); TOps.Store(a22, lane + 8 * lanes);
                    TOps.Store(a30, lane + 9 * lanes); TOps.Store(a31, lane + 10 * lanes); TOps.Store(a32, lane + 11 * lanes);
                    int n = Math.Min(lanes, width - x);
                    for (int r = 0; r < Math.Min(Half, rows - h); r++)
                    {
                        float* dst = pout + ((y + h + r) * width + x) * 3;
                        float* src = lane + 3 * r * lanes;
                        for (int i = 0; i < n; i++)
                        {
                            dst[i * 3] = src[i];
                            dst[i * 3 + 1] = src[lanes + i];
                            dst[i * 3 + 2] = src[2 * lanes + i];
                        }
                    }
                }
        }
    }
}
