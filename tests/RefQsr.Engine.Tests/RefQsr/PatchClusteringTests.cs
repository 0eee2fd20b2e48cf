using RefQsr.Engine.RefQsr;

namespace RefQsr.Engine.Tests.RefQsr;

public class PatchClusteringTests
{
    [Fact]
    public void AffinityIsRowSoftmaxTimesColumnSoftmaxTransposed()
    {
        float[][] v = [[0f, 1f], [2f, 0f]];
        var m = PatchClustering.Affinity(v);
        double e = Math.E;
        // A rows: [1/(1+e), e/(1+e)], [e²/(1+e²), 1/(1+e²)]; A' columns: class 0 [1/(1+e²), e²/(1+e²)], class 1 [e/(e+1), 1/(e+1)]
        double[,] a = { { 1 / (1 + e), e / (1 + e) }, { e * e / (1 + e * e), 1 / (1 + e * e) } };
        double[,] at = { { 1 / (1 + e * e), e / (e + 1) }, { e * e / (1 + e * e), 1 / (e + 1) } };
        for (int i = 0; i < 2; i++)
            for (int j = 0; j < 2; j++)
                Assert.Equal(a[i, 0] * at[j, 0] + a[i, 1] * at[j, 1], m[i, j], 12);
    }

    [Fact]
    public void SimilarPatchesShareTheMostTypicalReference()
    {
        // two textures: patches 0, 1, 3 lean to class 0 (patch 3 most), patches 2, 4 to class 2 (patch 4 most)
        float[][] v = [[3f, 0f, 0f], [2.5f, 0.2f, 0f], [0f, 0f, 3f], [5f, 0f, 0f], [0f, 0.1f, 6f]];
        var c = PatchClustering.Assign(v, 0.5);
        Assert.Equal([3, 3, 4, 3, 4], c.ReferenceOf);
        Assert.Equal([3, 4], c.References);
        Assert.Equal([0, 1, 2], c.Queries);
        Assert.Equal(0.4, c.ReferenceRatio, 12);
        Assert.Equal(3, c.ClusterOf(1));
        Assert.Equal(4, c.ClusterOf(4));
    }

    [Fact]
    public void TauFallbackMakesADissimilarPatchItsOwnReference()
    {
        // patch 1's argmax is patch 0 (class 0 dominates the column softmax) but their logits point apart
        float[][] v = [[8f, 0f, 0f], [1f, 0.9f, 0f], [0f, 0f, 5f]];
        var m = PatchClustering.Affinity(v);
        Assert.True(m[1, 0] > m[1, 1] && m[1, 0] > m[1, 2]);
        double cos = PatchClustering.Cosine(v[1], v[0]);
        Assert.InRange(cos, 0.7, 0.8);
        Assert.Equal(0, PatchClustering.Assign(v, 0.5).ReferenceOf[1]);
        Assert.Equal(1, PatchClustering.Assign(v, 0.9).ReferenceOf[1]);   // cos < tau: own reference
        Assert.Equal(0, PatchClustering.Assign(v, cos).ReferenceOf[1]);   // equal to tau is not below it
    }

    [Fact]
    public void TiesGoToTheLowestPatchAndZeroLogitsFallBack()
    {
        float[][] same = [[1f, 2f], [1f, 2f], [1f, 2f]];
        Assert.Equal([0, 0, 0], PatchClustering.Assign(same, 0.5).ReferenceOf);
        float[][] zeros = [[0f, 0f], [0f, 0f]];
        // every M entry ties (patch 0 wins) but a zero vector has no direction: cos = 0 < tau
        Assert.Equal([0, 1], PatchClustering.Assign(zeros, 0.5).ReferenceOf);
        Assert.Equal([0], PatchClustering.Assign([[0.3f, -1f]], 0.5).ReferenceOf);
    }

    [Fact]
    public void RejectsBadInput()
    {
        Assert.Throws<ArgumentException>(() => PatchClustering.Assign([], 0.5));
        Assert.Throws<ArgumentException>(() => PatchClustering.Assign([[1f, 2f], [1f]], 0.5));
        Assert.Throws<ArgumentException>(() => PatchClustering.Assign([[float.NaN]], 0.5));
        Assert.Throws<ArgumentException>(() => new ClusterAssignment([0, 2]));
    }
}
