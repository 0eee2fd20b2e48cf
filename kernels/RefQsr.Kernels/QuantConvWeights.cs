namespace RefQsr.Kernels;

/// <summary>Signed weight codes of a 3x3 conv, held bit-packed at their bit-width
/// (<see cref="BitPacking"/>) with the per-tap code sums the zero-point correction needs.
/// Each conv call expands the packed codes in registers into the layout its path reads,
/// in a pooled buffer of one layer's size, so the resident model keeps b bits per weight.
/// Packed order is [tap][in/4][out][4] (the Avx512 paths' layout, decoded straight into
/// place) where the channel counts allow, else PyTorch's [out][in][3][3].</summary>
public sealed class QuantConvWeights
{
    public int OutChannels { get; }
    public int InChannels { get; }
    /// <summary>The width the codes are packed at (2..8).</summary>
    public int Bits { get; }
    /// <summary>[out][tap]: sum over input channels of the codes at that tap.</summary>
    public int[] TapSums { get; }
    /// <summary>Largest |code|: bounds the int16 accumulation of the Avx512Int16 path.</summary>
    public int MaxAbsCode { get; }
    internal int FullTapSum(int outChannel) => fullSums[outChannel];
    internal int CodeCount => OutChannels * InChannels * 9;

    /// <summary>Bytes held: the packed codes plus the correction sums.</summary>
    public long ResidentBytes => packed.Length + 4L * (TapSums.Length + fullSums.Length) + 2L * (intWinograd?.Length ?? 0) + (byteWinograd?.Bytes ?? 0) + (rowWinograd?.Bytes ?? 0)
        + (winograd2x4?.Bytes ?? 0) + (winograd4x4?.Bytes ?? 0);
    short[]? intWinograd;
    /// <summary>The integer Winograd weights (<see cref="QuantConv3x3.IntWinogradWeights"/>), made
    /// on first use and kept (16 int16 per input/output channel pair).</summary>
    internal short[] IntWinograd => intWinograd ??= QuantConv3x3.IntWinogradWeights(this);
    /// <summary>Makes the layouts that <see cref="QuantConv3x3.BestPath(QuantConvWeights, int)"/>
    /// takes for activations of <paramref name="activationBits"/> bits (the Winograd
    /// transforms), so that the first conv pays nothing and <see cref="ResidentBytes"/> counts them.</summary>
    public void PrepareFor(int activationBits)
    {
        if (activationBits is < 1 or > 8) throw new ArgumentOutOfRangeException(nameof(activationBits), activationBits, "activation bits must be 1..8");
        switch (QuantConv3x3.BestPath(this, (1 << activationBits) - 1))
        {
            case QuantConvPath.Avx512Winograd: _ = IntWinograd; break;
            case QuantConvPath.Avx512WinogradBytes or QuantConvPath.AvxVnniWinograd: _ = ByteWinograd; break;
            case QuantConvPath.Avx512WinogradRowBytes or QuantConvPath.AvxVnniWinogradRows: _ = RowWinograd; break;
            case QuantConvPath.Avx512Winograd2x4 or QuantConvPath.Avx2Winograd2x4 or QuantConvPath.PortableWinograd2x4: _ = Winograd2x4; break;
            case QuantConvPath.Avx512Winograd4x4 or QuantConvPath.Avx2Winograd4x4 or QuantConvPath.PortableWinograd4x4: _ = Winograd4x4; break;
        }
    }

    int[]? borderTapSums;
    /// <summary>Σ of <see cref="TapSums"/> over the valid taps of each border class, per output
    /// channel (<see cref="QuantConvEpilogue.BorderTapSums"/>), made on first use: the
    /// epilogue's za·Σw rows are this times za.</summary>
    internal int[] BorderTapSums => borderTapSums ??= QuantConvEpilogue.BorderTapSums(this);

    QuantConv3x3.ByteWinogradWeights? byteWinograd;
    bool byteWinogradDone;
    /// <summary>The byte Winograd weights, or null where a transformed weight does not fit a byte.</summary>
    internal QuantConv3x3.ByteWinogradWeights? ByteWinograd => MadeOnce(ref byteWinograd, ref byteWinogradDone, QuantConv3x3.ByteWinogradWeightsFor);

    QuantConv3x3.RowWinogradWeights? rowWinograd;
    bool rowWinogradDone;
    /// <summary>The row Winograd weights, or null where a transformed weight does not fit a byte.</summary>
    internal QuantConv3x3.RowWinogradWeights? RowWinograd => MadeOnce(ref rowWinograd, ref rowWinogradDone, QuantConv3x3.RowWinogradWeightsFor);

    QuantConv3x3.WideWinogradWeights? winograd2x4, winograd4x4;
    bool winograd2x4Done, winograd4x4Done;
    /// <summary>The F(2x4) Winograd weights, or null where a transformed weight does not fit int16.</summary>
    internal QuantConv3x3.WideWinogradWeights? Winograd2x4 => MadeOnce(ref winograd2x4, ref winograd2x4Done, w => QuantConv3x3.WideWinogradWeightsFor(w, 2));
    /// <summary>The F(4x4) Winograd weights, or null where a transformed weight does not fit int16.</summary>
    internal QuantConv3x3.WideWinogradWeights? Winograd4x4 => MadeOnce(ref winograd4x4, ref winograd4x4Done, w => QuantConv3x3.WideWinogradWeightsFor(w, 4));

    /// <summary>A transform made on first use and kept, null included ("does not fit"); two
    /// threads racing only make the same value twice. Only the layouts a conv has asked for
    /// are counted in <see cref="ResidentBytes"/>.</summary>
    T? MadeOnce<T>(ref T? value, ref bool done, Func<QuantConvWeights, T?> make) where T : class
    {
        if (!Volatile.Read(ref done))
        {
            value = make(this);
            Volatile.Write(ref done, true);
        }
        return value;
    }

    internal bool Vectorizable => InChannels % 32 == 0 && OutChannels % 4 == 0;
    internal bool PairsVectorizable => InChannels % 2 == 0 && OutChannels % 64 == 0;
    internal bool QuadsVectorizable => InChannels % 4 == 0 && OutChannels % 64 == 0;

    readonly byte[] packed;
    readonly int[] fullSums;

    /// <param name="codesOihw">Signed weight codes, [out][in][3][3].</param>
    /// <param name="outChannels">Output channels.</param>
    /// <param name="inChannels">Input channels.</param>
    /// <param name="bits">The width to pack at; 0 picks the narrowest that holds every code.
    /// A code outside the signed range of <paramref name="bits"/> is an error.</param>
    public QuantConvWeights(ReadOnlySpan<sbyte> codesOihw, int outChannels, int inChannels, int bits = 0)
    {
        if (outChannels <= 0 || inChannels <= 0)
            throw new ArgumentException($"quantized conv weights: bad shape [{outChannels}, {inChannels}, 3, 3]");
        if (codesOihw.Length != outChannels * inChannels * 9)
            throw new ArgumentException($"quantized conv weights: {codesOihw.Length} codes for shape [{outChannels}, {inChannels}, 3, 3]");
        OutChannels = outChannels; InChannels = inChannels;
        Bits = bits == 0 ? BitPacking.BitsFor(codesOihw) : bits;
        TapSums = new int[outChannels * 9];
        fullSums = new int[outChannels];
        for (int co = 0; co < outChannels; co++)
            for (int ci = 0; ci < inChannels; ci++)
                for (int t = 0; t < 9; t++)
                {
                    sbyte v = codesOihw[(co * inChannels + ci) * 9 + t];
                    TapSums[co * 9 + t] += v;
                    fullSums[co] += v;
                    MaxAbsCode = Math.Max(MaxAbsCode, Math.Abs((int)v));
                }
        if (QuadsVectorizable)
        {
            var quads = new sbyte[codesOihw.Length];
            for (int co = 0; co < outChannels; co++)
                for (int ci = 0; ci < inChannels; ci++)
                    for (int t = 0; t < 9; t++)
                        quads[QuadIndex(t, ci, co)] = codesOihw[(co * inChannels + ci) * 9 + t];
            packed = BitPacking.Pack(quads, Bits);
        }
        else packed = BitPacking.Pack(codesOihw, Bits);
    }

    int QuadIndex(int tap, int ci, int co) => ((tap * (InChannels / 4) + ci / 4) * OutChannels + co) * 4 + (ci & 3);

    /// <summary>PyTorch order [out][in][3][3].</summary>
    public sbyte[] UnpackOihw()
    {
        var oihw = new sbyte[CodeCount];
        if (!QuadsVectorizable)
        {
            BitPacking.Unpack(packed, Bits, oihw);
            return oihw;
        }
        var quads = new sbyte[CodeCount];
        BitPacking.Unpack(packed, Bits, quads);
        for (int co = 0; co < OutChannels; co++)
            for (int ci = 0; ci < InChannels; ci++)
                for (int t = 0; t < 9; t++)
                    oihw[(co * InChannels + ci) * 9 + t] = quads[QuadIndex(t, ci, co)];
        return oihw;
    }

    /// <summary>[out][tap][in]: the Vector256 paths' and the GPU backend's layout.</summary>
    public sbyte[] UnpackOutTapIn()
    {
        var oihw = UnpackOihw();
        var byTap = new sbyte[oihw.Length];
        for (int co = 0; co < OutChannels; co++)
            for (int ci = 0; ci < InChannels; ci++)
                for (int t = 0; t < 9; t++)
                    byTap[(co * 9 + t) * InChannels + ci] = oihw[(co * InChannels + ci) * 9 + t];
        return byTap;
    }

    /// <summary>[tap][in/4][out][4] into <paramref name="quads"/>: a straight decode.</summary>
    internal void UnpackQuads(Span<sbyte> quads)
    {
        if (!QuadsVectorizable) throw new InvalidOperationException("weights are not in the quad layout");
        BitPacking.Unpack(packed, Bits, quads[..CodeCount]);
    }

    /// <summary>[tap][in/4][out][4] into <paramref name="quads"/> for any channel counts that
    /// are multiples of 4 (the AvxVnni path's layout): a straight decode where the codes are
    /// packed in it, else reordered from PyTorch's.</summary>
    internal void UnpackQuadsAnyShape(Span<sbyte> quads)
    {
        if (QuadsVectorizable) { UnpackQuads(quads); return; }
        if (InChannels % 4 != 0) throw new InvalidOperationException($"{InChannels} input channels do not make quads");
        var oihw = UnpackOihw();
        for (int co = 0; co < OutChannels; co++)
            for (int ci = 0; ci < InChannels; ci++)
                for (int t = 0; t < 9; t++)
                    quads[QuadIndex(t, ci, co)] = oihw[(co * InChannels + ci) * 9 + t];
    }

    /// <summary>[tap][in/2][out][2] int16 into <paramref name="pairs"/>, via the quad layout:
    /// quad row (tap, q) holds pair rows 2q (lanes 0, 1) and 2q+1 (lanes 2, 3).</summary>
    internal void UnpackPairs(Span<sbyte> quadScratch, Span<short> pairs)
    {
        if (!QuadsVectorizable)
        {
            var oihw = UnpackOihw();
            for (int co = 0; co < OutChannels; co++)
                for (int ci = 0; ci < InChannels; ci++)
                    for (int t = 0; t < 9; t++)
                        pairs[((t * (InChannels / 2) + ci / 2) * OutChannels + co) * 2 + (ci & 1)] = oihw[(co * InChannels + ci) * 9 + t];
            return;
        }
        UnpackQuads(quadScratch);
        int o = OutChannels, rows = 9 * InChannels / 4;
        for (int r = 0; r < rows; r++)
        {
            var quad = quadScratch.Slice(r * o * 4, o * 4);
            var even = pairs.Slice(2 * r * o * 2, o * 2);
            var odd = pairs.Slice((2 * r + 1) * o * 2, o * 2);
            for (int co = 0; co < o; co++)
            {
                even[2 * co] = quad[4 * co]; even[2 * co + 1] = quad[4 * co + 1];
                odd[2 * co] = quad[4 * co + 2]; odd[2 * co + 1] = quad[4 * co + 3];
            }
        }
    }
}
