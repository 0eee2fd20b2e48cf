using RefQsr.Engine.Weights;

namespace RefQsr.Cli;

internal static class ModelsCommand
{
    public static int Run(string[] args, TextWriter stdout)
    {
        if (args.Length != 0) throw CliException.Usage("models takes no arguments");
        string? def = null;
        try { def = Path.GetFileNameWithoutExtension(ModelLocator.Resolve(null)); } catch (CliException) { }
        foreach (var name in ModelLocator.Shipped())
        {
            string path = ModelLocator.Resolve(name);
            string desc;
            try { desc = ModelFile.Load(path).Config.Describe(); }
            catch (WeightsFormatException e) { desc = "INVALID: " + e.Message; }
            stdout.WriteLine($"{name,-28} {desc}{(name == def ? "  (default)" : "")}");
        }
        return 0;
    }
}
