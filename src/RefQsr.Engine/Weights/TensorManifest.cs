namespace RefQsr.Engine.Weights;

/// <summary>Every tensor a config needs, with its shape (docs/weights-format.md).</summary>
public static class TensorManifest
{
    public static IReadOnlyDictionary<string, long[]> Expected(ModelConfig c)
    {
        var m = new Dictionary<string, long[]>(StringComparer.Ordinal);
        if (c.Network == NetworkKind.ClustBlock)
        {
            AddClustBlock(m, c.Classes);
            return m;
        }
        long ch = c.Channels;
        m["head.weight"] = [ch, 3, 9, 9];
        m["head_act.weight"] = [1];
        for (int i = 0; i < c.Blocks; i++)
        {
            string b = $"body.{i}.";
            m[b + "conv1.weight"] = [ch, ch, 3, 3];
            m[b + "conv2.weight"] = [ch, ch, 3, 3];
            AddBn(m, b + "bn1.", ch);
            AddBn(m, b + "bn2.", ch);
            m[b + "act.weight"] = [1];
            if (!c.IsQuantized) continue;
            for (int k = 1; k <= 2; k++)
            {
                m[$"{b}conv{k}.w_range"] = [2];
                if (c.Quantizer == QuantizerKind.Pams)
                    m[$"{b}q{k}.alpha"] = [1];
                else
                {
                    m[$"{b}q{k}.alpha_l"] = [1];
                    m[$"{b}q{k}.alpha_u"] = [1];
                    if (c.DdtbGated.Contains(2 * i + k - 1)) AddGate(m, $"{b}q{k}.gate.", ch);
                }
            }
        }
        if (c.RefQsr is { } r) AddRefQsr(m, c, r);
        m["body_end.conv.weight"] = [ch, ch, 3, 3];
        AddBn(m, "body_end.bn.", ch);
        for (int u = 0; u < 2; u++)
        {
            m[$"up.{u}.conv.weight"] = [4 * ch, ch, 3, 3];
            m[$"up.{u}.act.weight"] = [1];
        }
        m["tail.weight"] = [3, ch, 9, 9];
        return m;
    }

    public const int GateHidden = 32;

    // docs/refqsr.md "Model file": the query path's b_low quantizers and the RefER blocks
    static void AddRefQsr(Dictionary<string, long[]> m, ModelConfig c, RefQsrSettings r)
    {
        long ch = c.Channels;
        for (int i = 1; i < r.FirstRefEr; i++)
            for (int k = 1; k <= 2; k++) AddActivation(m, $"body.{i}.qlow{k}.", c.Quantizer);
        foreach (int j in r.RefErBlocks)
        {
            string p = $"refer.{j}.";
            for (int k = 1; k <= 2; k++)
            {
                m[$"{p}conv{k}.weight"] = [ch, ch, 3, 3];
                m[$"{p}conv{k}.w_range"] = [2];
                AddActivation(m, $"{p}q{k}.", c.Quantizer);
            }
            m[p + "act.weight"] = [1];
        }
    }

    static void AddActivation(Dictionary<string, long[]> m, string q, QuantizerKind kind)
    {
        if (kind == QuantizerKind.Pams) m[q + "alpha"] = [1];
        else
        {
            m[q + "alpha_l"] = [1];
            m[q + "alpha_u"] = [1];
        }
    }

    static void AddGate(Dictionary<string, long[]> m, string g, long ch)
    {
        m[g + "q_in.alpha_l"] = [1];
        m[g + "q_in.alpha_u"] = [1];
        m[g + "conv1.weight"] = [GateHidden, ch, 1, 1];
        AddBn(m, g + "bn.", GateHidden);
        m[g + "q_mid.alpha_l"] = [1];
        m[g + "q_mid.alpha_u"] = [1];
        m[g + "conv2.weight"] = [2, GateHidden, 1, 1];
        m[g + "conv2.bias"] = [2];
    }

    static void AddClustBlock(Dictionary<string, long[]> m, int classes)
    {
        m["conv1.weight"] = [64, 3, 3, 3];
        m["conv2.weight"] = [64, 64, 3, 3];
        m["conv3.weight"] = [32, 64, 3, 3];
        m["fc.weight"] = [classes, 32];
        foreach (var (n, len) in new[] { ("conv1", 64L), ("conv2", 64L), ("conv3", 32L), ("fc", (long)classes) })
        {
            m[n + ".bias"] = [len];
            m[n + ".w_range"] = [2];
        }
        for (int q = 1; q <= 4; q++) m[$"q{q}.range"] = [2];
    }

    static void AddBn(Dictionary<string, long[]> m, string p, long ch)
    {
        foreach (var f in new[] { "weight", "bias", "running_mean", "running_var" }) m[p + f] = [ch];
    }
}
