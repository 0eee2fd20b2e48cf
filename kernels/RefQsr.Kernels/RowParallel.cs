namespace RefQsr.Kernels;

/// <summary>Splits work over output rows. Every row is computed by the same code whatever
/// the split, so results are byte-identical for any thread count.</summary>
public static class RowParallel
{
    public static void For(int rows, int threads, Action<int, int> body)
    {
        if (threads <= 1 || rows < 2)
        {
            body(0, rows);
            return;
        }
        int chunks = Math.Min(rows, threads * 4);
        Parallel.For(0, chunks, new ParallelOptions { MaxDegreeOfParallelism = threads }, c =>
        {
            int r0 = (int)((long)rows * c / chunks), r1 = (int)((long)rows * (c + 1) / chunks);
            body(r0, r1);
        });
    }
}
