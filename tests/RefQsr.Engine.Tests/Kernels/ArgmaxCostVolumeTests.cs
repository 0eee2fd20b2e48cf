using RefQsr.Kernels;

namespace RefQsr.Engine.Tests.Kernels;

public class ArgmaxCostVolumeTests
{
    /// <summary>Every path this CPU runs (the scalar one is the truth they are compared with).</summary>
    static IEnumerable<ArgmaxPath> FastPaths() => Enum.GetValues<ArgmaxPath>().Where(p => p != ArgmaxPath.Scalar && ArgmaxCostVolume.IsSupported(p));

    static sbyte[] Codes(Random rng, int n, int bits)
    {
        int qmax = (1 << (bits - 1)) - 1;
        var c = new sbyte[n];
        for (int i = 0; i < n; i++) c[i] = (sbyte)rng.Next(-qmax, qmax + 1);
        return c;
    }

    [Theory]
    [InlineData(2, 37, 23, 64)]
    [InlineData(3, 5, 41, 64)]
    [InlineData(4, 33, 17, 64)]
    [InlineData(5, 9, 9, 20)]
    [InlineData(6, 13, 7, 48)]
    [InlineData(7, 1, 1, 64)]
    [InlineData(8, 31, 29, 64)]
    [InlineData(8, 11, 6, 5)]
    public void FastPathMatchesReference(int bits, int nq, int nr, int channels)
    {
        var rng = new Random(bits * 1000 + nq);
        var q = Codes(rng, nq * channels, bits);
        var r = Codes(rng, nr * channels, bits);
        var expected = new int[nq];
        ArgmaxCostVolume.Reference(q, r, channels, expected);
        foreach (int threads in new[] { 1, 2, 3 })
        {
            var got = new int[nq];
            ArgmaxCostVolume.Run(q, r, channels, got, threads);
            Assert.Equal(expected, got);
            // every path, whichever Run chose (the Vector128 one CPUs without AVX2 take runs here too)
            foreach (var path in FastPaths())
            {
                var onPath = new int[nq];
                ArgmaxCostVolume.Run(q, r, channels, onPath, threads, path);
                Assert.Equal(expected, onPath);
            }
        }
        // the reference itself: brute force over the full cost matrix
        for (int i = 0; i < nq; i++)
        {
            var costs = Enumerable.Range(0, nr).Select(j => Enumerable.Range(0, channels).Sum(c => q[i * channels + c] * r[j * channels + c])).ToArray();
            Assert.Equal(Array.IndexOf(costs, costs.Max()), expected[i]);
        }
    }

    // blocks of 16 references (the VNNI path): equal best rows in other lanes and other
    // blocks, 8-bit extremes (the query shift to q + 128 and its correction at their limits),
    // a query count that leaves a partial block of 6, 1 to 3 threads
    [Fact]
    public void TiesAcrossLanesAndBlocksAndExtremeCodes()
    {
        const int c = 64, nr = 45, nq = 8;
        var rng = new Random(11);
        var q = Codes(rng, nq * c, 8);
        var r = Codes(rng, nr * c, 8);
        for (int i = 0; i < c; i++) { q[i] = -128; q[c + i] = (sbyte)(i % 2 == 0 ? -128 : 127); }
        var best = Enumerable.Range(0, c).Select(i => (sbyte)(i % 3 == 0 ? 127 : -128)).ToArray();
        foreach (int j in new[] { 41, 17, 9 }) best.CopyTo(r.AsSpan(j * c));
        for (int i = 0; i < c; i++) q[2 * c + i] = (sbyte)(best[i] == 127 ? 127 : -128);
        var expected = new int[nq];
        ArgmaxCostVolume.Reference(q, r, c, expected);
        Assert.Equal(9, expected[2]);
        foreach (int threads in new[] { 1, 2, 3 })
            foreach (var path in FastPaths())
            {
                var fast = new int[nq];
                ArgmaxCostVolume.Run(q, r, c, fast, threads, path);
                Assert.Equal(expected, fast);
            }
    }

    [Fact]
    public void TiesGoToTheLowestReferenceIndex()
    {
        const int c = 64, nr = 11;
        var rng = new Random(5);
        var q = Codes(rng, 3 * c, 4);
        var r = new sbyte[nr * c];                    // all-zero rows: every cost is 0
        var fast = new int[3];
        ArgmaxCostVolume.Run(q, r, c, fast);
        Assert.Equal([0, 0, 0], fast);
        // rows 2, 6 and 9 equal and best (4 refs per vector pass: ties inside and across passes)
        var best = Codes(rng, c, 4);
        for (int i = 0; i < c; i++) q[i] = best[i];
        foreach (int j in new[] { 9, 6, 2 }) best.CopyTo(r.AsSpan(j * c));
        var reference = new int[3];
        ArgmaxCostVolume.Reference(q, r, c, reference);
        Assert.Equal(2, reference[0]);
        foreach (var path in FastPaths())
        {
            ArgmaxCostVolume.Run(q, r, c, fast, 1, path);
            Assert.Equal(reference, fast);
        }
    }

    [Fact]
    public void BestPathRunsHereAndTheScalarAndVector128PathsRunEverywhere()
    {
        foreach (int channels in new[] { 1, 8, 16, 64 })
            Assert.True(ArgmaxCostVolume.IsSupported(ArgmaxCostVolume.BestPath(channels)));
        Assert.True(ArgmaxCostVolume.IsSupported(ArgmaxPath.Scalar));
        Assert.True(ArgmaxCostVolume.IsSupported(ArgmaxPath.Vector128));
        // a path this CPU lacks is refused by name, not run
        foreach (var path in Enum.GetValues<ArgmaxPath>().Where(p => !ArgmaxCostVolume.IsSupported(p)))
        {
            var e = Assert.Throws<NotSupportedException>(() => ArgmaxCostVolume.Run(new sbyte[64], new sbyte[64], 64, new int[1], 1, path));
            Assert.Contains(path.ToString(), e.Message);
        }
    }

    [Fact]
    public void RejectsRaggedInput()
    {
        Assert.Throws<ArgumentException>(() => ArgmaxCostVolume.Run(new sbyte[65], new sbyte[64], 64, new int[1]));
        Assert.Throws<ArgumentException>(() => ArgmaxCostVolume.Run(new sbyte[64], [], 64, new int[1]));
    }
}
