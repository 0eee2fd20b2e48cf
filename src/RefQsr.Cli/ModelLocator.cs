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

    public static IEnumerable<string> Shipped()
        => SearchFolders().Where(Directory.Exists)
            .SelectMany(f => Directory.GetFiles(f, "*.safetensors"))
            .Select(p => Path.GetFileNameWithoutExtension(p)).Distinct().Order();
}
