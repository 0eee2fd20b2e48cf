using RefQsr.Engine;
using RefQsr.Engine.Weights;

namespace RefQsr.Cli;

public static class Program
{
    const string Usage = """
        refqsr: quantized x4 super-resolution (RefQSR engine)

          refqsr demo [--out DIR] [--model M] [--threads N] [--device D]
          refqsr upscale IN OUT [--model M] [--clusters MAP.png] [--patch P | --full-image] [--threads N] [--device D] [--max-pixels N] [--profile] [--json]
          refqsr eval --data DIR [--model M] [--patch P | --full-image] [--limit N] [--threads N] [--device D] [--json]
          refqsr info [--model M] [--lr WxH | --image IN] [--patch P | --full-image] [--json]
          refqsr models
          refqsr parity DIR [--model M] [--json]

        Common: --verbose prints stack traces on errors. --model takes a file or a shipped
        model name (see `refqsr models`); the default is the best shipped model. RefQSR
        models pair their patches with a ClustBlock: --clustblock C (default the shipped
        clustblock-8bit), --tau T (-1..1) overrides the model's cosine threshold of the
        pairing (lower: more queries). --clusters writes the LR image x4 with each patch
        tinted by its cluster and the reference patches outlined. --device cpu|cuda|auto
        (default cpu) runs on the CPU engine or a CUDA GPU (auto: CUDA when present);
        ilgpu-cpu runs the GPU code on ILGPU's slow CPU accelerator, for debugging.
        upscale - OUT reads the image from standard input, upscale IN - writes the PNG to
        standard output (the summary then goes to stderr). upscale IN OUT with IN a folder:
        every PNG, JPEG and BMP in it is written to the folder
        OUT as NAME.png, the model loaded once; an image that fails is named and skipped, the
        exit code is then 1. A transparent PNG keeps its alpha (scaled by bicubic), and an
        ICC colour profile (and a PNG's sRGB, gAMA, cHRM) and the pixel density (PNG pHYs,
        JPEG JFIF) are carried to the output.
        parity DIR checks the engine against a reference forward written by
        train/make_fixtures.py (codes >= 99.9% identical, HR within 0.5 grey levels and
        >= 60 dB); exit code 1 when it fails.
        --profile prints the time per stage (CPU runs). On a terminal, upscale shows the
        patches done; Ctrl+C cancels upscale and eval cleanly (exit code 130, no output
        image written).
        """;

    public static int Main(string[] args) => Run(args, Console.Out, Console.Error);

    /// <summary>The command with its output captured; <paramref name="stdinBytes"/> and
    /// <paramref name="stdoutBytes"/> are the byte streams `upscale - OUT` and `upscale IN -`
    /// read and write (default the process's own).</summary>
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr, Stream? stdinBytes = null, Stream? stdoutBytes = null)
    {
        bool verbose = args.Contains("--verbose");
        args = args.Where(a => a != "--verbose").ToArray();
        try
        {
            if (args.Length == 0 || args[0] is "-h" or "--help" or "help")
            {
                stdout.WriteLine(Usage);
                return args.Length == 0 ? 2 : 0;
            }
            var rest = args[1..];
            return args[0] switch
            {
                "upscale" => UpscaleCommand.Run(rest, stdout, stderr, () => stdinBytes ?? Console.OpenStandardInput(), () => stdoutBytes ?? Console.OpenStandardOutput()),
                "eval" => EvalCommand.Run(rest, stdout, stderr),
                "info" => InfoCommand.Run(rest, stdout),
                "parity" => ParityCommand.Run(rest, stdout),
                "demo" => DemoCommand.Run(rest, stdout),
                "models" => ModelsCommand.Run(rest, stdout),
                _ => throw CliException.Usage($"unknown command '{args[0]}' (try refqsr --help)"),
            };
        }
        catch (Exception e)
        {
            var (message, code) = e switch
            {
                CliException c => (c.Message, c.ExitCode),
                WeightsFormatException w => ("invalid model file: " + w.Message, 1),
                RefQsr.Engine.Inference.DeviceUnavailableException d => (d.Message, 1),
                NotSupportedException n => (n.Message, 1),
                ModelArithmeticException m => ("model error: " + m.Message, 1),
                FileNotFoundException f => (f.Message, 1),
                ArgumentException a => (a.Message, 2),
                IOException or UnauthorizedAccessException => (e.Message, 1),
                OutOfMemoryException => ("out of memory: try a smaller --patch or fewer --threads", 1),
                _ => ("internal error: " + e.Message, 3),
            };
            stderr.WriteLine("refqsr: " + message.ReplaceLineEndings(" "));
            if (verbose) stderr.WriteLine(e);
            return code;
        }
    }
}
