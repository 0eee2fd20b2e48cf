namespace RefQsr.Engine.RefQsr;

/// <summary>Pairs the patches of one image (docs/refqsr.md "Clustering"), in float64 from
/// the ClustBlock's float32 logits V (N x C): A = softmax over classes (rows),
/// A' = softmax over patches (columns), M = A·A'ᵀ, ref(i) = argmax_j M[i, j] (ties: lowest
/// j), and ref(i) = i when cos(V[i], V[ref(i)]) &lt; tau.</summary>
public static class PatchClustering
{
    public static ClusterAssignment Assign(IReadOnlyList<float[]> logits, double tau)
    {
        var m = Affinity(logits);
        int n = logits.Count;
        var refOf = new int[n];
        for (int i = 0; i < n; i++)
        {
            int best = 0;
            for (int j = 1; j < n; j++)
                if (m[i, j] > m[i, best]) best = j;   // strict: ties keep the lowest j
            refOf[i] = Cosine(logits[i], logits[best]) < tau ? i : best;
        }
        return new ClusterAssignment(refOf);
    }

    /// <summary>M = A·A'ᵀ (N x N).</summary>
    public static double[,] Affinity(IReadOnlyList<float[]> logits)
    {
        ArgumentNullException.ThrowIfNull(logits);
        int n = logits.Count;
        if (n == 0) throw new ArgumentException("clustering needs at least one patch");
        int c = logits[0].Length;
        if (c == 0) throw new ArgumentException("clustering needs at least one class");
        for (int i = 0; i < n; i++)
        {
            if (logits[i].Length != c) throw new ArgumentException($"patch {i} has {logits[i].Length} logits, patch 0 has {c}");
            foreach (var v in logits[i])
                if (!float.IsFinite(v)) throw new ArgumentException($"patch {i} has a non-finite logit ({v})");
        }
        var a = new double[n, c];
        var aT = new double[n, c];
        // rows: softmax over classes (max subtracted: same value, no overflow)
        for (int i = 0; i < n; i++)
        {
            double max = double.NegativeInfinity, sum = 0;
            for (int k = 0; k < c; k++) max = Math.Max(max, logits[i][k]);
            for (int k = 0; k < c; k++) sum += a[i, k] = Math.Exp(logits[i][k] - max);
            for (int k = 0; k < c; k++) a[i, k] /= sum;
        }
        // columns: softmax over patches
        for (int k = 0; k < c; k++)
        {
            double max = double.NegativeInfinity, sum = 0;
            for (int i = 0; i < n; i++) max = Math.Max(max, logits[i][k]);
            for (int i = 0; i < n; i++) sum += aT[i, k] = Math.Exp(logits[i][k] - max);
            for (int i = 0; i < n; i++) aT[i, k] /= sum;
        }
        var m = new double[n, n];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
            {
                double s = 0;
                for (int k = 0; k < c; k++) s += a[i, k] * aT[j, k];
                m[i, j] = s;
            }
        return m;
    }

    /// <summary>cos(u, v) in float64; 0 when either vector is zero (no direction to agree on).</summary>
    public static double Cosine(ReadOnlySpan<float> u, ReadOnlySpan<float> v)
    {
        double dot = 0, nu = 0, nv = 0;
        for (int k = 0; k < u.Length; k++)
        {
            dot += (double)u[k] * v[k];
            nu += (double)u[k] * u[k];
            nv += (double)v[k] * v[k];
        }
        return nu == 0 || nv == 0 ? 0 : dot / (Math.Sqrt(nu) * Math.Sqrt(nv));
    }
}
