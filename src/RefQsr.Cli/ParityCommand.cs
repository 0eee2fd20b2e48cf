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
        // a RefQSR fixture also holds the ClustBlock logits, the pairing and one query patch
        // through RefER: those the engine's RefQsrParityTests check, this command the plain
        // forward (every block at b_high) that the fixture holds too
        string scope = fx.Manifest.TryGetProperty("clustblock_model", out _)
            ? "the reference path only (the ClustBlock, the pairing and the query path: RefQsrParityTests)" : "the whole forward";
        string modelPath = fx.ModelPath(a.Get("model"));
        var net = SrResNet.Load(modelPath);
        var s = fx.Shape("input");
        int h = s[0], w = s[1];
        var codes = new Dictionary<int, byte[]>();
        foreach (var name in fx.CodeNames)
        {
            var c = fx.Shape(name);
            codes[int.Parse(name["codes_q".Length..])] = ParityFixture.ChwToHwc(fx.Bytes(name), c[1], c[2], c[3]);
        }
        var hs = fx.Shape("hr");
        var result = ParityCheck.Run(net, fx.Bytes("input"), h, w, codes, ParityFixture.ChwToHwc(fx.Floats("hr"), hs[1], hs[2], hs[3]),
            a.GetInt("threads", 1, 1, 256));
        if (a.Has("json"))
            Common.WriteJson(stdout, new ParityReport(fx.Name, modelPath, net.Config.Describe(), scope, result.Passes,
                [.. result.Layers.Select(l => new ParityLayer(l.Name, l.Identical, l.Total, l.Passes))], result.HrMaxAbs, result.HrPsnr),
                CliJson.Default.ParityReport);
        else
        {
            stdout.WriteLine($"fixture  {fx.Name}: LR {w}x{h}, {modelPath} ({net.Config.Describe()}); checks {scope}");
            foreach (var l in result.Layers)
                stdout.WriteLine($"{l.Name,-12} {l.Identical}/{l.Total} codes identical ({100.0 * l.Identical / l.Total:F3}%){(l.Passes ? "" : $"  FAILS: needs {100 * ParityCheck.MinIdenticalCodes:F1}%")}");
            stdout.WriteLine($"HR           max |diff| {result.HrMaxAbs:G4} grey levels, PSNR {result.HrPsnr:F1} dB against the reference" +
                (result.HrMaxAbs <= ParityCheck.MaxHrDifference && result.HrPsnr >= ParityCheck.MinHrPsnr ? "" : $"  FAILS: needs <= {ParityCheck.MaxHrDifference} and >= {ParityCheck.MinHrPsnr} dB"));
            stdout.WriteLine(result.Passes ? "parity   holds" : "parity   FAILS");
        }
        return result.Passes ? 0 : 1;
    }
}
