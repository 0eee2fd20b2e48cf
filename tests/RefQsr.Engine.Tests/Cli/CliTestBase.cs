using RefQsr.Cli;
using RefQsr.Engine.Imaging;
using RefQsr.Engine.Weights;

namespace RefQsr.Engine.Tests.Cli;

/// <summary>What every CLI test needs: a temporary folder, model and image files written
/// into it, and the command run in-process with its output captured.</summary>
public abstract class CliTestBase : IDisposable
{
    protected readonly string Dir = Directory.CreateTempSubdirectory("refqsr-cli-").FullName;

    public void Dispose()
    {
        Directory.Delete(Dir, true);
        GC.SuppressFinalize(this);
    }

    protected string Write(string name, ModelConfig c)
    {
        string p = Path.Combine(Dir, name);
        File.WriteAllBytes(p, TestModels.Bytes(c));
        return p;
    }

    protected string Png(int w, int h, string name = "in.png")
    {
        string p = Path.Combine(Dir, name);
        ImageFiles.SavePng(SyntheticScene.Create(w, h), p);
        return p;
    }

    protected static (int Code, string Out, string Err) Run(params string[] args)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        int code = Program.Run(args, o, e);
        return (code, o.ToString(), e.ToString());
    }
}
