using RefQsr.Engine.Quantization;
using RefQsr.Engine.Weights;
using RefQsr.Kernels;

namespace RefQsr.Engine.Networks;

/// <summary>A 3x3 conv's float master weights with their clip range; quantized on demand
/// at any bit-width (RefQSR needs two: b_high and b_medium), once per width.</summary>
internal sealed class QuantizedConv
{
    public int Channels { get; }
    float[]? master;

    /// <summary>The float weights; gone once <see cref="ReleaseMaster"/> has run.</summary>
    public float[] Master => master ?? throw new InvalidOperationException(
        $"the float master weights of this conv were released after quantizing at {string.Join(", ", byBits.Keys)} bits");
    readonly float lo, hi;
    readonly QuantizerKind kind;
    readonly Dictionary<int, (QuantConvWeights Weights, Quantizer Q)> byBits = [];

    public QuantizedConv(float[] master, float lo, float hi, QuantizerKind kind, int channels)
    {
        this.master = master; this.lo = lo; this.hi = hi; this.kind = kind; Channels = channels;
    }

    public static QuantizedConv Load(ModelFile f, string prefix, QuantizerKind kind, int channels)
    {
        var range = f.Floats(prefix + "w_range");
        if (!float.IsFinite(range[0]) || !float.IsFinite(range[1]) || !(range[1] > range[0]))
            throw new WeightsFormatException($"tensor '{prefix}w_range': [{range[0]}, {range[1]}] is not a valid range");
        if (kind == QuantizerKind.Pams && !(range[1] > 0 && range[0] == -range[1]))
            throw new WeightsFormatException($"tensor '{prefix}w_range': PAMS needs a symmetric range, found [{range[0]}, {range[1]}]");
        var conv = new QuantizedConv(f.Floats(prefix + "weight"), range[0], range[1], kind, channels);
        RangeTensors.Checked(() => conv.WeightQuantizer(RangeTensors.WidestBits), $"tensor '{prefix}w_range'");
        return conv;
    }

    /// <summary>Bytes held: the float master (until released) and every bit-width's packed codes.</summary>
    public long ResidentBytes
    {
        get { lock (byBits) return 4L * (master?.Length ?? 0) + byBits.Values.Sum(v => v.Weights.ResidentBytes); }
    }

    /// <summary>Drops the float master once every bit-width the model runs at is quantized:
    /// a quantized model then keeps b bits per weight, not 32 + b.</summary>
    public void ReleaseMaster()
    {
        lock (byBits) master = null;
    }

    public Quantizer WeightQuantizer(int bits)
        => kind == QuantizerKind.Pams ? Quantizer.Symmetric(hi, bits) : Quantizer.Asymmetric(lo, hi, bits);

    public (QuantConvWeights Weights, Quantizer Q) At(int bits)
    {
        lock (byBits)
        {
            if (byBits.TryGetValue(bits, out var r)) return r;
            var q = WeightQuantizer(bits);
            float[] m = master ?? throw new InvalidOperationException(
                $"this conv holds weights at {string.Join(", ", byBits.Keys)} bits only; its float masters were released, so {bits} bits cannot be made");
            // the vectorised unsigned codes (the same bytes as Code), shifted to signed
            var unsigned = new byte[m.Length];
            q.UnsignedCodes(m, unsigned);
            var codes = new sbyte[m.Length];
            for (int i = 0; i < codes.Length; i++) codes[i] = (sbyte)(unsigned[i] + q.QLo);
            r = (new QuantConvWeights(codes, Channels, Channels, bits), q);
            byBits[bits] = r;
            return r;
        }
    }

    /// <summary>Quantize x at activation bits, run the integer conv, dequantize.
    /// Returns the unsigned codes it fed the kernel (for parity traces).</summary>
    public byte[] Forward(float[] x, Quantizer aq, int wBits, int h, int w, float[] output, int threads)
        => Forward(x, aq, wBits, h, w, output, threads, default);

    /// <summary>As above, with the element-wise ops that follow the conv fused into its
    /// epilogue. <paramref name="output"/> may be the residual itself (updated in place).
    /// <paramref name="codes"/>, if given, are x already quantized with <paramref name="aq"/>
    /// (by the previous conv's epilogue), so x itself is not read. Otherwise x's codes go into
    /// <paramref name="codesBuffer"/> where given (a pooled buffer of at least h·w·C), else
    /// into a new array.</summary>
    public byte[] Forward(float[] x, Quantizer aq, int wBits, int h, int w, float[] output, int threads, EpilogueOps ops, byte[]? codes = null,
        byte[]? codesBuffer = null)
    {
        var (weights, wq) = At(wBits);
        if (codes is null)
        {
            if (codesBuffer is not null && codesBuffer.Length < h * w * Channels)
                throw new ArgumentException($"a codes buffer of {codesBuffer.Length} bytes for a {w}x{h}x{Channels} input");
            codes = codesBuffer ?? new byte[x.Length];
            int rowLen = w * Channels;
            var c = codes;
            RowParallel.For(h, threads, (r0, r1) =>
            {
                aq.UnsignedCodes(x.AsSpan(r0 * rowLen, (r1 - r0) * rowLen), c.AsSpan(r0 * rowLen, (r1 - r0) * rowLen));
            });
        }
        else if (codes.Length < h * w * Channels)
            throw new ArgumentException($"{codes.Length} precomputed codes for a {w}x{h}x{Channels} input");
        QuantConv3x3.RunWithEpilogue(codes, weights, h, w, aq.UnsignedZero, (int)wq.Zp, 1f / (aq.S * wq.S), output, ops, threads);
        return codes;
    }
}
