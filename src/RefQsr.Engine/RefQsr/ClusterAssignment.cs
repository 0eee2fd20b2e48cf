namespace RefQsr.Engine.RefQsr;

/// <summary>Which patch each patch takes its reference features from (docs/refqsr.md
/// "Clustering"). A patch is a reference when some patch (itself included) points at it;
/// every other patch is a query paired with <see cref="ReferenceOf"/>. A cluster is a
/// reference and the queries pointing at it.</summary>
public sealed class ClusterAssignment
{
    public IReadOnlyList<int> ReferenceOf { get; }
    readonly bool[] isReference;

    public ClusterAssignment(IReadOnlyList<int> referenceOf)
    {
        ArgumentNullException.ThrowIfNull(referenceOf);
        if (referenceOf.Count == 0) throw new ArgumentException("a cluster assignment needs at least one patch");
        isReference = new bool[referenceOf.Count];
        for (int i = 0; i < referenceOf.Count; i++)
        {
            int r = referenceOf[i];
            if ((uint)r >= (uint)referenceOf.Count)
                throw new ArgumentException($"patch {i}: reference {r} is outside 0..{referenceOf.Count - 1}");
            isReference[r] = true;
        }
        ReferenceOf = referenceOf.ToArray();
    }

    /// <summary>Every patch its own reference (what a plain b_high run costs).</summary>
    public static ClusterAssignment AllReferences(int patches) => new(Enumerable.Range(0, patches).ToArray());

    public int PatchCount => isReference.Length;
    public bool IsReference(int patch) => isReference[patch];
    public IReadOnlyList<int> References => Enumerable.Range(0, PatchCount).Where(i => isReference[i]).ToArray();
    public IReadOnlyList<int> Queries => Enumerable.Range(0, PatchCount).Where(i => !isReference[i]).ToArray();
    public int ReferenceCount => isReference.Count(r => r);

    /// <summary>References / patches.</summary>
    public double ReferenceRatio => (double)ReferenceCount / PatchCount;

    /// <summary>The reference a patch's cluster is named by: itself for a reference, its
    /// paired reference for a query.</summary>
    public int ClusterOf(int patch) => isReference[patch] ? patch : ReferenceOf[patch];
}
