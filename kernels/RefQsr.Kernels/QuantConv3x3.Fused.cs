using System.Buffers;

namespace RefQsr.Kernels;

public static partial class QuantConv3x3
{
    /// <summary>The conv and its epilogue (<see cref="QuantConvEpilogue"/>) one output row at a
    /// time: each row's int32 accumulators go from the kernel to the epilogue while they are
    /// still in cache, and the whole image's accumulators never exist (for 64 channels that is
    /// 256 bytes per pixel not written to memory and read back). Gives the same bytes as
    /// <see cref="Run(ReadOnlySpan{byte}, QuantConvWeights, int[], int, int, int)"/> followed by
    /// <see cref="QuantConvEpilogue.Dequantize(byte[], int[], QuantConvWeights, int, int, int, int, float, float[], EpilogueOps, int)"/>,
    /// for any thread count. <paramref name="output"/> may be the residual (updated in place)
    /// and may be empty in <see cref="EpilogueOps.CodesOnly"/> mode.</summary>
    public static void RunWithEpilogue(byte[] codes, QuantConvWeights w, int height, int width,
        int za, int zw, float scale, float[] output, EpilogueOps ops, int threads = 1)
    {
        ValidateFused(codes, w, height, width);
        int maxCode = MaxCode(codes.AsSpan(0, height * width * w.InChannels));
        RunWithEpilogue(codes, w, height, width, za, zw, scale, output, ops, threads, BestPath(w, maxCode), maxCode);
    }

    /// <summary>As above on one chosen path (for tests and benchmarks); throws if this CPU or
    /// these weights cannot run it.</summary>
    public static void RunWithEpilogue(byte[] codes, QuantConvWeights w, int height, int width,
        int za, int zw, float scale, float[] output, EpilogueOps ops, int threads, QuantConvPath path)
    {
        ValidateFused(codes, w, height, width);
        int maxCode = NeedsMaxCode(path) ? MaxCode(codes.AsSpan(0, height * width * w.InChannels)) : 0;
        RunWithEpilogue(codes, w, height, width, za, zw, scale, output, ops, threads, path, maxCode);
    }

    /// <summary>Rows per call of the Winograd paths' conv and epilogue. Each call clears and
    /// fills its own transform buffers (the row path transforms two more input rows than it
    /// outputs), so fewer, longer calls cost less: 8 rows against 2 made the row VNNI path
    /// about 5% faster and the 2-D VNNI one about 2% (96x96 64→64, one thread, 150 alternating
    /// runs each; the int16 path measured the same). A multiple of the 2-D tiles' 2 and 4 rows.</summary>
    const int WinogradRowsPerCall = 8;
    static void ValidateFused(byte[] codes, QuantConvWeights w, int height, int width)
        => new ConvShape(height, width, w.InChannels, w.OutChannels, Kernel).Validate(codes.Length, w.CodeCount, checked(height * width * w.OutChannels));

    static void RunWithEpilogue(byte[] codes, QuantConvWeights w, int height, int width,
        int za, int zw, float scale, float[] output, EpilogueOps ops, int threads, QuantConvPath path, int maxCode)
    {
        int rowLength = width * w.OutChannels;
        if (path == QuantConvPath.Scalar)
        {
            // the reference has no row entry point: whole image, then the epilogue
            var acc = new int[height * rowLength];
            RunPath(codes, w, acc, height, width, 1, path, maxCode);
            QuantConvEpilogue.Dequantize(codes, acc, w, height, width, za, zw, scale, output, ops, threads);
            return;
        }
        // Winograd computes two rows per tile: the conv and the epilogue take whole tiles, several per call
        int step = path is QuantConvPath.Avx512Winograd or QuantConvPath.Avx512Winograd2x4 or QuantConvPath.Avx512Winograd4x4 or QuantConvPath.Avx512WinogradBytes or QuantConvPath.Avx512WinogradRowBytes or QuantConvPath.AvxVnniWinogradRows or QuantConvPath.AvxVnniWinograd
            or QuantConvPath.Avx2Winograd2x4 or QuantConvPath.Avx2Winograd4x4 or QuantConvPath.PortableWinograd2x4 or QuantConvPath.PortableWinograd4x4 ? WinogradRowsPerCall : 1;
        using var plan = QuantConvEpilogue.Plan.Create(codes, rowLength * step, output.Length, w, height, width, za, zw, scale, ops, accRows: step);
        using var conv = new PreparedConv(codes, w, height, width, path, maxCode, threads);
        RowParallel.For((height + step - 1) / step, threads, (s0, s1) =>
        {
            int[] rows = ArrayPool<int>.Shared.Rent(rowLength * step);
            try
            {
                for (int y = s0 * step; y < Math.Min(height, s1 * step); y += step)
                {
                    int y1 = Math.Min(height, y + step);
                    conv.Rows(rows, y, y, y1);
                    plan.Rows(rows, y, output, y, y1);
                }
            }
            finally { ArrayPool<int>.Shared.Return(rows); }
        });
    }
}
