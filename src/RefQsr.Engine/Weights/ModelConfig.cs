using System.Text.Json;
using System.Text.Json.Nodes;

namespace RefQsr.Engine.Weights;

public enum NetworkKind { SrResNet, ClustBlock }
public enum QuantizerKind { None, Ddtb, Pams }


/// <summary>The model config stored in a model file's metadata (docs/weights-format.md).</summary>
public sealed record ModelConfig
{
    public const string FormatName = "refqsr";
    public const string FormatVersion = "1";

    public NetworkKind Network { get; init; } = NetworkKind.SrResNet;
    public int Scale { get; init; } = 4;
    public int Channels { get; init; } = 64;
    public int Blocks { get; init; } = 16;
    public QuantizerKind Quantizer { get; init; } = QuantizerKind.None;
    public int WeightBits { get; init; } = 32;
    public int ActivationBits { get; init; } = 32;
    public IReadOnlyList<int> DdtbGated { get; init; } = [];
    public RefQsrSettings? RefQsr { get; init; }
    public int Classes { get; init; }
    /// <summary>Free-form provenance (training steps, data); kept verbatim, not interpreted.</summary>
    public string? TrainJson { get; init; }

    public bool IsQuantized => Quantizer != QuantizerKind.None;

    public string Describe() => Network switch
    {
        NetworkKind.ClustBlock => $"ClustBlock, {Classes} classes, 8-bit",
        _ when RefQsr is { } r =>
            $"SRResNet x{Scale}, {Blocks} blocks, {Channels} ch, {Quantizer.ToString().ToUpperInvariant()} RefQSR {r.BHigh}-{r.BLow} (queries w{r.BMedium}a{r.BLow}, RefER blocks {string.Join(", ", r.RefErBlocks)})",
        _ => IsQuantized
            ? $"SRResNet x{Scale}, {Blocks} blocks, {Channels} ch, {Quantizer.ToString().ToUpperInvariant()} w{WeightBits}a{ActivationBits}"
            : $"SRResNet x{Scale}, {Blocks} blocks, {Channels} ch, FP32",
    };

    public static ModelConfig Parse(string json)
    {
        JsonNode? root;
        try { root = JsonNode.Parse(json); }
        catch (JsonException e) { throw new WeightsFormatException($"config: not valid JSON ({e.Message})"); }
        if (root is not JsonObject o) throw new WeightsFormatException("config: not a JSON object");
        string network = Str(o, "network");
        var cfg = new ModelConfig
        {
            Network = network switch
            {
                "srresnet" => NetworkKind.SrResNet,
                "clustblock" => NetworkKind.ClustBlock,
                _ => throw new WeightsFormatException($"config.network: unknown network '{network}'"),
            },
        };
        if (cfg.Network == NetworkKind.ClustBlock)
        {
            int classes = Int(o, "classes", 2, 1000);
            return cfg with { Classes = classes, TrainJson = o["train"]?.ToJsonString() };
        }
        int scale = Int(o, "scale", 4, 4);
        int channels = Int(o, "channels", 1, 1024);
        int blocks = Int(o, "blocks", 1, 256);
        string q = Str(o, "quantizer");
        var qk = q switch
        {
            "none" => QuantizerKind.None,
            "ddtb" => QuantizerKind.Ddtb,
            "pams" => QuantizerKind.Pams,
            _ => throw new WeightsFormatException($"config.quantizer: unknown quantizer '{q}'"),
        };
        int wb = qk == QuantizerKind.None ? 32 : Int(o, "w_bits", 2, 8);
        int ab = qk == QuantizerKind.None ? 32 : Int(o, "a_bits", 2, 8);
        var gated = new List<int>();
        if (qk == QuantizerKind.Ddtb && o["ddtb_gated"] is JsonArray ga)
            foreach (var g in ga)
            {
                if (g is not JsonValue gv || !gv.TryGetValue(out int gi) || gi < 0 || gi >= 2 * blocks)
                    throw new WeightsFormatException($"config.ddtb_gated: entries must be quantizer indices 0..{2 * blocks - 1}");
                if (gated.Contains(gi)) throw new WeightsFormatException($"config.ddtb_gated: index {gi} listed twice");
                gated.Add(gi);
            }
        RefQsrSettings? rq = o["refqsr"] switch
        {
            null => null,
            JsonObject r => RefQsrSettings.Parse(r, blocks, qk, wb, ab),
            _ => throw new WeightsFormatException("config.refqsr: must be null or an object"),
        };
        return cfg with
        {
            Scale = scale, Channels = channels, Blocks = blocks, Quantizer = qk,
            WeightBits = wb, ActivationBits = ab, DdtbGated = gated, RefQsr = rq,
            TrainJson = o["train"]?.ToJsonString(),
        };
    }

    public string ToJson()
    {
        var o = new JsonObject { ["network"] = Network == NetworkKind.ClustBlock ? "clustblock" : "srresnet" };
        if (Network == NetworkKind.ClustBlock) o["classes"] = Classes;
        else
        {
            o["scale"] = Scale; o["channels"] = Channels; o["blocks"] = Blocks;
            o["quantizer"] = Quantizer.ToString().ToLowerInvariant();
            o["w_bits"] = WeightBits; o["a_bits"] = ActivationBits;
            if (Quantizer == QuantizerKind.Ddtb) o["ddtb_gated"] = new JsonArray(DdtbGated.Select(g => (JsonNode)g).ToArray());
            if (RefQsr is { } r)
                o["refqsr"] = new JsonObject
                {
                    ["b_high"] = r.BHigh, ["b_low"] = r.BLow, ["b_medium"] = r.BMedium, ["tau"] = r.Tau,
                    ["refer_blocks"] = new JsonArray(r.RefErBlocks.Select(b => (JsonNode)b).ToArray()),
                };
        }
        if (TrainJson is not null) o["train"] = JsonNode.Parse(TrainJson);
        return o.ToJsonString();
    }

    internal static string Str(JsonObject o, string key)
        => o[key] is JsonValue v && v.TryGetValue(out string? s) && s is not null ? s
           : throw new WeightsFormatException($"config.{key}: missing or not a string");

    internal static int Int(JsonObject o, string key, int min, int max)
    {
        if (o[key] is not JsonValue v || !v.TryGetValue(out int i))
            throw new WeightsFormatException($"config.{key}: missing or not an integer");
        if (i < min || i > max) throw new WeightsFormatException($"config.{key}: {i} is outside {min}..{max}");
        return i;
    }
}
