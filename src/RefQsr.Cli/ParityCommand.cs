using RefQsr.Engine.Diagnostics;
using RefQsr.Engine.Networks;

namespace RefQsr.Cli;

/// <summary>`refqsr parity DIR`: the engine against the trainer's reference forward in a
/// folder written by train/make_fixtures.py, with the trainer issue's acceptance
/// (<see cref="ParityCheck"/>). Exit code 0 when it holds, 1 when not.</summary>
internal static class ParityCommand
{
    const string UsageLine = "usage: refqsr parity DIR [--model M] [--threads N] [--json]  (DIR from train/make_fixtures.py)";

    public static int Run(string[] args, TextWriter stdout)
    {
        var a = new ArgParser(args, ["json"], ["model", "threads"]);
        if (a.Positionals.Count != 1) throw CliException.Usage(UsageLine);
        string dir = a.Positionals[0];
        if (!Directory.Exists(dir)) throw new CliException($"fixture folder not found: {dir}");
        var fx = ParityFixture.Open(dir);
        // a RefQSR fixture holds the plain forward (every block at b_high, the reference path)
        // and RefQSR's own stages: the ClustBlock logits, the pairing, one query patch
        bool isRefQsr = fx.IsRefQsr;
        string scope = isRefQsr ? "the reference path, the ClustBlock logits and pairing, and one query patch through RefER" : "the whole forward";
        string modelPath = fx.ModelPath(a.Get("model"));
        var net = SrResNet.Load(modelPath);
        var (input, h, w) = fx.Input();
        var result = ParityCheck.Run(net, input, h, w, fx.Codes(), fx.Hr(), a.GetInt("threads", 1, 1, 256), fx.Head());
        RefQsrParityCheck.Result? rq = null;
        if (isRefQsr)
        {
            var (clustBlock, patches, expected) = fx.RefQsr();
            rq = RefQsrParityCheck.Run(net, ClustBlock.Load(clustBlock), input, h, w, patches, expected);
        }
        bool passes = result.Passes && (rq?.Passes ?? true);
        if (a.Has("json"))
            Common.WriteJson(stdout, new ParityReport(fx.Name, modelPath, net.Config.Describe(), scope, passes,
                [.. result.Layers.Select(Layer)], result.HrMaxAbs, result.HrPsnr, result.HeadDiffering, result.HeadTotal,
                rq is null ? null : new RefQsrParityReport(rq.Passes, rq.Patches, rq.LogitsMaxRelError, rq.References, rq.ReferencesMatch,
                    [.. rq.QueryLayers.Select(Layer)], [.. rq.QueryMatchings.Select(mt => new ParityMatching(mt.Name, mt.Identical, mt.Total, mt.FlowMaxAbs, mt.Passes))],
                    rq.QueryHrMaxAbs, rq.QueryHrPsnr)),
                CliJson.Default.ParityReport);
        else
        {
            stdout.WriteLine($"fixture  {fx.Name}: LR {w}x{h}, {modelPath} ({net.Config.Describe()}); checks {scope}");
            if (result.HeadTotal > 0)
                stdout.WriteLine(result.HeadDiffering == 0
                    ? $"head         FP32 output bit for bit the reference's ({result.HeadTotal} values)"
                    : $"head         FP32 output differs from the reference's in the last bits at {result.HeadDiffering} of {result.HeadTotal} values " +
                      $"(max relative {result.HeadMaxRelDiff:G2}): the reference sums the head conv in another order than the engine (a fixture " +
                      "from make_fixtures.py before conv_fma_chain?), and quantized layers amplify such differences (docs/integer-arithmetic.md)");
            WriteLayers(stdout, "", result.Layers);
            WriteHr(stdout, "HR", result.HrMaxAbs, result.HrPsnr);
            if (rq is not null)
            {
                stdout.WriteLine($"logits       {rq.Patches} patches, max relative error {rq.LogitsMaxRelError:G3} against the reference" +
                    (rq.LogitsPass ? "" : $"  FAILS: needs <= {RefQsrParityCheck.LogitTolerance:G}"));
                stdout.WriteLine($"references   [{string.Join(", ", rq.References)}]" + (rq.ReferencesMatch ? ", as the reference's" : "  FAILS: the reference's differ"));
                WriteLayers(stdout, "query ", rq.QueryLayers);
                foreach (var mt in rq.QueryMatchings)
                    stdout.WriteLine($"query {mt.Name} argmax {mt.Identical}/{mt.Total} positions identical, flow max |diff| {mt.FlowMaxAbs:G3} px" +
                        (mt.Passes ? "" : $"  FAILS: needs {100 * ParityCheck.MinIdenticalCodes:F1}% and <= {RefQsrParityCheck.FlowTolerance:G} px"));
                WriteHr(stdout, "query HR", rq.QueryHrMaxAbs, rq.QueryHrPsnr);
            }
            stdout.WriteLine(passes ? "parity   holds" : "parity   FAILS");
        }
        return passes ? 0 : 1;
    }

    static ParityLayer Layer(ParityCheck.Layer l) => new(l.Name, l.Identical, l.Total, l.Passes);

    static void WriteLayers(TextWriter stdout, string prefix, IEnumerable<ParityCheck.Layer> layers)
    {
        foreach (var l in layers)
            stdout.WriteLine($"{prefix + l.Name,-12} {l.Identical}/{l.Total} codes identical ({100.0 * l.Identical / l.Total:F3}%)" +
                (l.Passes ? "" : $"  FAILS: needs {100 * ParityCheck.MinIdenticalCodes:F1}%"));
    }

    static void WriteHr(TextWriter stdout, string label, double maxAbs, double psnr)
        => stdout.WriteLine($"{label,-12} max |diff| {maxAbs:G4} grey levels, PSNR {psnr:F1} dB against the reference" +
            (maxAbs <= ParityCheck.MaxHrDifference && psnr >= ParityCheck.MinHrPsnr ? "" : $"  FAILS: needs <= {ParityCheck.MaxHrDifference} and >= {ParityCheck.MinHrPsnr} dB"));
}
