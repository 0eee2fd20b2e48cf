using RefQsr.Engine.Inference;
using RefQsr.Engine.Networks;
using RefQsr.Engine.RefQsr;

namespace RefQsr.Engine.Diagnostics;

/// <summary>RefQSR's own stages against a reference (train/make_fixtures.py --tiny-refqsr):
/// the ClustBlock logits of every patch, the references the pairing picks from them, and one
/// query patch through its low-bit blocks and RefER, matched to its reference patch. The plain
/// forward of the same fixture is <see cref="ParityCheck.Run"/>.</summary>
public static class RefQsrParityCheck
{
    /// <summary>Logits are float sums in another order than PyTorch's: each within this
    /// relative error of the reference.</summary>
    public const float LogitTolerance = 1e-4f;

    /// <summary>A patch of the LR image: rows [Y0, Y1), columns [X0, X1).</summary>
    public readonly record struct PatchBox(int Y0, int Y1, int X0, int X1)
    {
        public int Height => Y1 - Y0;
        public int Width => X1 - X0;
    }

    /// <summary>The flows are float displacements upsampled from whole pooled positions: within
    /// this many pixels of the reference's.</summary>
    public const double FlowTolerance = 1e-4;

    /// <summary>What the fixture expects: logits (patches x classes, row-major), each patch's
    /// reference, the pairing's tau, the query and its reference patch, the query path's codes
    /// (trace name, e.g. body.1.qlow1 → HWC codes) and its HR output (HWC, before clamping);
    /// optionally each RefER block's argmax and pixel flow [h][w][2] (refer.J →).</summary>
    public sealed record Expected(float[] Logits, int[] References, double Tau, int Query, int QueryReference,
        IReadOnlyDictionary<string, byte[]> QueryCodes, float[] QueryHr)
    {
        public IReadOnlyDictionary<string, int[]> QueryMatches { get; init; } = new Dictionary<string, int[]>();
        public IReadOnlyDictionary<string, float[]> QueryFlows { get; init; } = new Dictionary<string, float[]>();
    }

    /// <summary>One RefER block's matching: identical argmax positions, and the flow's largest
    /// difference in pixels.</summary>
    public sealed record Matching(string Name, int Identical, int Total, double FlowMaxAbs)
    {
        public bool Passes => Identical >= ParityCheck.MinIdenticalCodes * Total && FlowMaxAbs <= FlowTolerance;
    }

    public sealed record Result(int Patches, double LogitsMaxRelError, IReadOnlyList<int> References, bool ReferencesMatch,
        IReadOnlyList<ParityCheck.Layer> QueryLayers, double QueryHrMaxAbs, double QueryHrPsnr)
    {
        public IReadOnlyList<Matching> QueryMatchings { get; init; } = [];
        public bool LogitsPass => LogitsMaxRelError <= LogitTolerance;
        public bool QueryHrPasses => QueryHrMaxAbs <= ParityCheck.MaxHrDifference && QueryHrPsnr >= ParityCheck.MinHrPsnr;
        public bool Passes => LogitsPass && ReferencesMatch && QueryLayers.All(l => l.Passes) && QueryMatchings.All(m => m.Passes) && QueryHrPasses;
    }

    public static Result Run(SrResNet net, ClustBlock clustBlock, ReadOnlySpan<byte> lr, int height, int width,
        IReadOnlyList<PatchBox> patches, Expected expected)
    {
        ArgumentNullException.ThrowIfNull(net);
        ArgumentNullException.ThrowIfNull(clustBlock);
        ArgumentNullException.ThrowIfNull(expected);
        var image = ParityCheck.Image(lr, height, width);
        foreach (var p in patches)
            if (p.Y0 < 0 || p.X0 < 0 || p.Y1 > height || p.X1 > width || p.Height <= 0 || p.Width <= 0)
                throw new ArgumentException($"patch {p} is not inside the {width}x{height} image");
        if (expected.Query < 0 || expected.Query >= patches.Count || expected.QueryReference < 0 || expected.QueryReference >= patches.Count)
            throw new ArgumentException($"query {expected.Query} or its reference {expected.QueryReference} is not one of the {patches.Count} patches");
        float[] Crop(PatchBox p) => Upscaler.ToFloats(image, p.X0, p.Y0, p.Width, p.Height);

        var logits = patches.Select(p => clustBlock.Logits(Crop(p), p.Height, p.Width)).ToList();
        int classes = logits.Count > 0 ? logits[0].Length : 0;
        if (expected.Logits.Length != patches.Count * classes)
            throw new ArgumentException($"the reference has {expected.Logits.Length} logits, {patches.Count} patches of {classes} classes are {patches.Count * classes}");
        double worst = 0;
        for (int i = 0; i < logits.Count; i++)
            for (int c = 0; c < classes; c++)
            {
                float e = expected.Logits[i * classes + c];
                worst = Math.Max(worst, Math.Abs(logits[i][c] - e) / (1 + Math.Abs(e)));
            }
        var references = PatchClustering.Assign(logits, expected.Tau).ReferenceOf;

        PatchBox qp = patches[expected.Query], rp = patches[expected.QueryReference];
        var (_, features) = net.ForwardReference(Crop(rp), rp.Height, rp.Width, 1);
        var trace = new ForwardTrace();
        var hr = net.ForwardQuery(Crop(qp), qp.Height, qp.Width, features, 1, trace);
        var layers = new List<ParityCheck.Layer>();
        foreach (var (name, codes) in expected.QueryCodes.OrderBy(e => e.Key, StringComparer.Ordinal))
        {
            if (!trace.Codes.TryGetValue(name, out var actual) || actual.Length != codes.Length)
                throw new ArgumentException($"the reference has {codes.Length} query codes at {name}, the engine {(actual is null ? "none" : actual.Length.ToString())}");
            layers.Add(new ParityCheck.Layer(name, ParityCheck.CountEqual<byte>(actual, codes), codes.Length));
        }
        var matchings = new List<Matching>();
        foreach (var (name, match) in expected.QueryMatches.OrderBy(e => e.Key, StringComparer.Ordinal))
        {
            if (!trace.Matches.TryGetValue(name, out var actual) || actual.Length != match.Length)
                throw new ArgumentException($"the reference has {match.Length} argmax positions at {name}, the engine {(actual is null ? "none" : actual.Length.ToString())}");
            int same = ParityCheck.CountEqual<int>(actual, match);
            double flowMax = 0;
            if (expected.QueryFlows.TryGetValue(name, out var flow))
            {
                var mine = trace.Flows[name];
                if (mine.Length != flow.Length) throw new ArgumentException($"the reference's flow at {name} has {flow.Length} values, the engine's {mine.Length}");
                for (int i = 0; i < flow.Length; i++) flowMax = Math.Max(flowMax, Math.Abs(mine[i] - flow[i]));
            }
            matchings.Add(new Matching(name, same, match.Length, flowMax));
        }
        var (maxAbs, psnr) = ParityCheck.CompareHr(hr, expected.QueryHr);
        return new Result(patches.Count, worst, references, references.SequenceEqual(expected.References), layers, maxAbs, psnr)
        {
            QueryMatchings = matchings,
        };
    }
}
