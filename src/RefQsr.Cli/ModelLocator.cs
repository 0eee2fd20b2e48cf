namespace RefQsr.Cli;

/// <summary>Finds model files: an explicit path, a shipped model's name, or the default
/// (the best shipped model, by the preference order below).</summary>
public static class ModelLocator
{
    /// <summary>Best first: the 8-bit DDTB model is the engine's reference integer model
    /// (within 0.05 dB of FP32 by target); FP32 is the fallback when nothing quantized ships.</summary>
    public static readonly string[] Preference =
        ["srresnet-ddtb-w8a8", "srresnet-pams-w8a8", "srresnet-ddtb-w4a4", "srresnet-pams-w4a4", "srresnet-fp32"];

    public static IEnumerable<string> SearchFolders()
    {
        yield return Path.Combine(AppContext.BaseDirectory, "weights");
        // running from a source checkout: walk up to the repository's weights/
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        for (int i = 0; i < 8 && dir is not null; i++, dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "RefQsr.Engine.sln")))
            {
                yield return Path.Combine(dir.FullName, "weights");
                yield break;
            }
    }

    public static string Resolve(string? model)
    {
        if (model is not null)
        {
            if (File.Exists(model)) return model;
            foreach (var f in SearchFolders())
            {
                var p = Path.Combine(f, model.EndsWith(".safetensors", StringComparison.Ordinal) ? model : model + ".safetensors");
                if (File.Exists(p)) return p;
            }
            throw new CliException($"model not found: '{model}' is neither a file nor a shipped model ({string.Join(", ", Shipped())})");
        }
        foreach (var name in Preference)
            foreach (var f in SearchFolders())
            {
                var p = Path.Combine(f, name + ".safetensors");
                if (File.Exists(p)) return p;
            }
        throw new CliException("no model given and none shipped in weights/ (use --model FILE)");
    }

    /// <summary>The ClustBlock a RefQSR model pairs its patches with, when none is given.</summary>
    public const string DefaultClustBlock = "clustblock-8bit";

    /// <summary>An explicit ClustBlock (file or shipped name), else the shipped default;
    /// <paramref name="forModel"/> names the RefQSR model in the error when there is none.</summary>
    public static string ResolveClustBlock(string? clustBlock, string forModel)
    {
        if (clustBlock is not null) return Resolve(clustBlock);
        foreach (var f in SearchFolders())
        {
            var p = Path.Combine(f, DefaultClustBlock + ".safetensors");
            if (File.Exists(p)) return p;
        }
        throw new CliException($"{forModel} is a RefQSR model and needs a ClustBlock to pair its patches: pass --clustblock FILE " +
            $"(no {DefaultClustBlock}.safetensors shipped in weights/)");
    }

    public static IEnumerable<string> Shipped()
        => SearchFolders().Where(Directory.Exists)
            .SelectMany(f => Directory.GetFiles(f, "*.safetensors"))
            .Select(p => Path.GetFileNameWithoutExtension(p)).Distinct().Order();
}
