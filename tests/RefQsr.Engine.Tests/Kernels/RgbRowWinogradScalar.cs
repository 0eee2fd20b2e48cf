using RefQsr.Kernels;

namespace RefQsr.Engine.Tests.Kernels;

/// <summary>The RGB tail's row Winograd F(3, 3) one value at a time, with the vector paths'
/// operations in their order (input transform, Σ over ci, ky, s by fused multiply-adds from
/// zero, output transform) and zeros past the padded row's end: what both the Vector512 and
/// the Vector256 kernel must give bit for bit, so a test of either on its own machine shows
/// that they agree.</summary>
static class RgbRowWinogradScalar
{
    public static float[] Run(float[] inputHwc, float[] weightsOihw, int height, int width, int cin, int k)
    {
        int pad = k / 2, subFilters = k / 3, rowLength = width + k - 1, paddedRows = height + k - 1;
        int tileCount = (width + 2) / 3, tiles = tileCount + subFilters - 1;
        float[] u = FloatConv2d.RgbWinogradWeights(weightsOihw, cin, k);
        float X(int ci, int py, int px)
        {
            int y = py - pad, x = px - pad;
            if (px >= rowLength || (uint)y >= (uint)height || (uint)x >= (uint)width) return 0f;
            return inputHwc[(y * width + x) * cin + ci];
        }
        var v = new float[5, cin, paddedRows, tiles];
        for (int ci = 0; ci < cin; ci++)
            for (int py = 0; py < paddedRows; py++)
                for (int t = 0; t < tiles; t++)
                {
                    float d0 = X(ci, py, 3 * t), d1 = X(ci, py, 3 * t + 1), d2 = X(ci, py, 3 * t + 2), d3 = X(ci, py, 3 * t + 3), d4 = X(ci, py, 3 * t + 4);
                    v[0, ci, py, t] = MathF.FusedMultiplyAdd(2f, d0 - d2, d3 - d1);
                    v[1, ci, py, t] = MathF.FusedMultiplyAdd(-2f, d1, d3 - d2);
                    v[2, ci, py, t] = MathF.FusedMultiplyAdd(2f, d1 - d2, d3 - d2);
                    v[3, ci, py, t] = d3 - d1;
                    v[4, ci, py, t] = MathF.FusedMultiplyAdd(2f, d1 - d3, d4 - d2);
                }
        var output = new float[height * width * 3];
        var m = new float[5];
        for (int y = 0; y < height; y++)
            for (int t = 0; t < tileCount; t++)
                for (int co = 0; co < 3; co++)
                {
                    for (int j = 0; j < 5; j++)
                    {
                        float acc = 0f;
                        for (int ci = 0; ci < cin; ci++)
                            for (int ky = 0; ky < k; ky++)
                                for (int s = 0; s < subFilters; s++)
                                    acc = MathF.FusedMultiplyAdd(v[j, ci, y + ky, t + s], u[((((j * cin + ci) * k + ky) * subFilters + s) * 3) + co], acc);
                        m[j] = acc;
                    }
                    float[] o =
                    {
                        m[0] + m[1] + m[2] + m[3],
                        MathF.FusedMultiplyAdd(2f, m[3], m[1] - m[2]),
                        MathF.FusedMultiplyAdd(4f, m[3], m[1] + m[2]) + m[4],
                    };
                    for (int i = 0; i < 3; i++)
                        if (3 * t + i < width) output[(y * width + 3 * t + i) * 3 + co] = o[i];
                }
        return output;
    }
}
