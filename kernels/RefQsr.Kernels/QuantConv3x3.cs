using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace RefQsr.Kernels;

/// <summary>Integer 3x3 stride-1 convolution with zero padding: unsigned activation codes
/// (HWC bytes) times signed weight codes, accumulated in int32 over the valid taps.
/// Padding contributes nothing (a padded code is 0), which is what the zero-point
/// corrections of <see cref="QuantConvEpilogue"/> expect.</summary>
public static partial class QuantConv3x3
{
    public const int Kernel = 3;

    /// <summary>The scalar truth; weights in PyTorch order [out][in][3][3].</summary>
    public static void Reference(ReadOnlySpan<byte> codes, ReadOnlySpan<sbyte> weightsOihw, Span<int> acc, ConvShape s)
    {
        if (s.Kernel != Kernel) throw new ArgumentException("QuantConv3x3 needs a 3x3 shape");
        s.Validate(codes.Length, weightsOihw.Length, acc.Length);
        for (int y = 0; y < s.Height; y++)
            for (int x = 0; x < s.Width; x++)
                for (int co = 0; co < s.OutChannels; co++)
                {
                    int sum = 0;
                    for (int ci = 0; ci < s.InChannels; ci++)
                        for (int ky = 0; ky < 3; ky++)
                        {
                            int iy = y + ky - 1;
                            if ((uint)iy >= (uint)s.Height) continue;
                            for (int kx = 0; kx < 3; kx++)
                            {
                                int ix = x + kx - 1;
                                if ((uint)ix >= (uint)s.Width) continue;
                                sum += codes[(iy * s.Width + ix) * s.InChannels + ci]
                                     * weightsOihw[((co * s.InChannels + ci) * 3 + ky) * 3 + kx];
                            }
                        }
                    acc[(y * s.Width + x) * s.OutChannels + co] = sum;
                }
    }

    /// <summary>Fast path: Avx512BW int16 pair products broadcast over output channels
    /// where present, else AvxVnni (vpdpbusd), else Avx2 widening multiply-add, else the
    /// reference loop. Exact integer results, so every path and every thread count gives
    /// identical output.</summary>
    public static void Run(ReadOnlySpan<byte> codes, QuantConvWeights w, int[] acc, int height, int width, int threads)
        => Run(codes, w, acc, height, width, threads, BestPath(w, MaxCode(codes)));

    /// <summary>The int16-accumulating path pays off once it can sum at least this many
    /// vpmaddubsw results before widening.</summary>
    const int MinInt16Steps = 4;

    /// <summary>The fastest exact path for these weights and activation codes up to
    /// <paramref name="maxActivation"/>.</summary>
    public static QuantConvPath BestPath(QuantConvWeights w, int maxActivation)
    {
        if (w.QuadsVectorizable && Avx512BW.IsSupported && Int16Steps(maxActivation, w.MaxAbsCode) >= MinInt16Steps)
            return QuantConvPath.Avx512Int16;
        return BestPath(w);
    }

    static int MaxCode(ReadOnlySpan<byte> codes)
    {
        var max = Vector512<byte>.Zero;
        int i = 0;
        for (; i + 64 <= codes.Length; i += 64) max = Vector512.Max(max, Vector512.Create(codes.Slice(i, 64)));
        int m = 0;
        for (int j = 0; j < 64; j++) m = Math.Max(m, max.GetElement(j));
        for (; i < codes.Length; i++) m = Math.Max(m, codes[i]);
        return m;
    }

    /// <summary>The fastest path this CPU supports for these weights.</summary>
    public static QuantConvPath BestPath(QuantConvWeights w)
    {
        if (w.PairsVectorizable && Avx512BW.IsSupported) return QuantConvPath.Avx512Pairs;
        if (!w.Vectorizable) return QuantConvPath.Scalar;
        if (AvxVnni.IsSupported) return QuantConvPath.AvxVnni;
        return Avx2.IsSupported ? QuantConvPath.Avx2 : QuantConvPath.Scalar;
    }

    /// <summary>Runs one chosen path (for tests and benchmarks); throws if this CPU or
    /// these weights cannot run it.</summary>
    public static void Run(ReadOnlySpan<byte> codes, QuantConvWeights w, int[] acc, int height, int width, int threads, QuantConvPath path)
    {
        var s = new ConvShape(height, width, w.InChannels, w.OutChannels, Kernel);
        s.Validate(codes.Length, w.Codes.Length, acc.Length);
        bool ok = path switch
        {
            QuantConvPath.Scalar => true,
            QuantConvPath.Avx2 => Avx2.IsSupported && w.Vectorizable,
            QuantConvPath.AvxVnni => AvxVnni.IsSupported && w.Vectorizable,
            QuantConvPath.Avx512Pairs => Avx512BW.IsSupported && w.PairsVectorizable,
            QuantConvPath.Avx512Int16 => Avx512BW.IsSupported && w.QuadsVectorizable,
            _ => false,
        };
        if (!ok) throw new NotSupportedException($"quantized conv path {path} is not available on this CPU for {w.InChannels}->{w.OutChannels} channels");
        if (path == QuantConvPath.Scalar)
        {
            Reference(codes, w.CodesOihw, acc, s);
            return;
        }
        int pw = width + 2;
        if (path == QuantConvPath.Avx512Int16)
        {
            int steps = Int16Steps(MaxCode(codes), w.MaxAbsCode);
            if (steps < 1)
                throw new NotSupportedException($"quantized conv path {path} is not exact for activation codes up to {MaxCode(codes)} with weight codes up to ±{w.MaxAbsCode}");
            byte[] pad = Pad(codes, height, width, w.InChannels);
            RowParallel.For(height, threads, (r0, r1) => Avx512Int16Rows(pad, pw, w, acc, width, r0, r1, Math.Min(steps, 9 * w.InChannels / 4)));
            return;
        }
        if (path == QuantConvPath.Avx512Pairs)
        {
            ushort[] wide = PadWide(codes, height, width, w.InChannels);
            RowParallel.For(height, threads, (r0, r1) => Avx512PairRows(wide, pw, w, acc, width, r0, r1));
            return;
        }
        byte[] padded = Pad(codes, height, width, w.InChannels);
        RowParallel.For(height, threads, (r0, r1) =>
        {
            if (path == QuantConvPath.AvxVnni) VnniRows(padded, pw, w, acc, width, r0, r1);
            else Avx2Rows(padded, pw, w, acc, width, r0, r1);
        });
    }

    internal static byte[] Pad(ReadOnlySpan<byte> codes, int h, int w, int c)
    {
        int pw = w + 2;
        var p = new byte[checked((h + 2) * pw * c)];
        for (int y = 0; y < h; y++)
            codes.Slice(y * w * c, w * c).CopyTo(p.AsSpan(((y + 1) * pw + 1) * c, w * c));
        return p;
    }

    // Four output channels per pass share each 32-byte activation load.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static unsafe void VnniRows(byte[] padded, int pw, QuantConvWeights w, int[] acc, int width, int r0, int r1)
    {
        int cin = w.InChannels, cout = w.OutChannels, tapStride = cin;
        int coStride = 9 * cin;
        fixed (byte* pin = padded)
        fixed (sbyte* pwt = w.Codes)
        fixed (int* pout = acc)
        {
            for (int y = r0; y < r1; y++)
                for (int x = 0; x < width; x++)
                {
                    int* o = pout + (y * width + x) * cout;
                    for (int co = 0; co < cout; co += 4)
                    {
                        Vector256<int> s0 = default, s1 = default, s2 = default, s3 = default;
                        sbyte* w0 = pwt + co * coStride;
                        for (int ky = 0; ky < 3; ky++)
                        {
                            byte* row = pin + ((y + ky) * pw + x) * cin;
                            for (int kx = 0; kx < 3; kx++, row += cin, w0 += tapStride)
                                for (int ci = 0; ci < cin; ci += 32)
                                {
                                    var a = Vector256.Load(row + ci);
                                    s0 = AvxVnni.MultiplyWideningAndAdd(s0, a, Vector256.Load(w0 + ci));
                                    s1 = AvxVnni.MultiplyWideningAndAdd(s1, a, Vector256.Load(w0 + coStride + ci));
                                    s2 = AvxVnni.MultiplyWideningAndAdd(s2, a, Vector256.Load(w0 + 2 * coStride + ci));
                                    s3 = AvxVnni.MultiplyWideningAndAdd(s3, a, Vector256.Load(w0 + 3 * coStride + ci));
                                }
                        }
                        o[co] = Vector256.Sum(s0); o[co + 1] = Vector256.Sum(s1);
                        o[co + 2] = Vector256.Sum(s2); o[co + 3] = Vector256.Sum(s3);
                    }
                }
        }
    }

    // Without VNNI: widen both operands to int16 and use vpmaddwd (exact, no saturation).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static unsafe void Avx2Rows(byte[] padded, int pw, QuantConvWeights w, int[] acc, int width, int r0, int r1)
    {
        int cin = w.InChannels, cout = w.OutChannels, coStride = 9 * cin;
        fixed (byte* pin = padded)
        fixed (sbyte* pwt = w.Codes)
        fixed (int* pout = acc)
        {
            for (int y = r0; y < r1; y++)
                for (int x = 0; x < width; x++)
                    for (int co = 0; co < cout; co++)
                    {
                        Vector256<int> sum = default;
                        sbyte* wt = pwt + co * coStride;
                        for (int ky = 0; ky < 3; ky++)
                        {
                            byte* row = pin + ((y + ky) * pw + x) * cin;
                            for (int kx = 0; kx < 3; kx++, row += cin, wt += cin)
                                for (int ci = 0; ci < cin; ci += 16)
                                {
                                    var a = Avx2.ConvertToVector256Int16(Vector128.Load(row + ci));
                                    var b = Avx2.ConvertToVector256Int16(Vector128.Load(wt + ci));
                                    sum = Avx2.Add(sum, Avx2.MultiplyAddAdjacent(a, b));
                                }
                        }
                        pout[(y * width + x) * cout + co] = Vector256.Sum(sum);
                    }
        }
    }
}

/// <summary>Signed weight codes of a 3x3 conv, repacked [out][tap][in] for the SIMD
/// paths, with the per-tap code sums the zero-point correction needs.</summary>
public sealed class QuantConvWeights
{
    public int OutChannels { get; }
    public int InChannels { get; }
    internal sbyte[] Codes { get; }
    internal sbyte[] CodesOihw { get; }
    /// <summary>[out][tap]: sum over input channels of the codes at that tap.</summary>
    public int[] TapSums { get; }
    internal int FullTapSum(int outChannel) => fullSums[outChannel];

    /// <summary>Bytes held: the codes in each kernel's layout plus the correction sums.</summary>
    public long ResidentBytes => CodesOihw.Length + Codes.Length + 2L * Pairs.Length + Quads.Length + 4L * (TapSums.Length + fullSums.Length);
    readonly int[] fullSums;
    internal bool Vectorizable => InChannels % 32 == 0 && OutChannels % 4 == 0;
    internal bool PairsVectorizable => InChannels % 2 == 0 && OutChannels % 64 == 0;
    internal bool QuadsVectorizable => InChannels % 4 == 0 && OutChannels % 64 == 0;
    /// <summary>Largest |code|: bounds the int16 accumulation of the Avx512Int16 path.</summary>
    public int MaxAbsCode { get; }
    /// <summary>[tap][in/4][out][4] bytes: the layout of the Avx512Int16 path.</summary>
    internal sbyte[] Quads { get; }
    /// <summary>[tap][in/2][out][2] int16: the pair layout of the Avx512 path.</summary>
    internal short[] Pairs { get; }

    public QuantConvWeights(ReadOnlySpan<sbyte> codesOihw, int outChannels, int inChannels)
    {
        if (outChannels <= 0 || inChannels <= 0)
            throw new ArgumentException($"quantized conv weights: bad shape [{outChannels}, {inChannels}, 3, 3]");
        if (codesOihw.Length != outChannels * inChannels * 9)
            throw new ArgumentException($"quantized conv weights: {codesOihw.Length} codes for shape [{outChannels}, {inChannels}, 3, 3]");
        OutChannels = outChannels; InChannels = inChannels;
        CodesOihw = codesOihw.ToArray();
        Codes = new sbyte[CodesOihw.Length];
        TapSums = new int[outChannels * 9];
        for (int co = 0; co < outChannels; co++)
            for (int ci = 0; ci < inChannels; ci++)
                for (int t = 0; t < 9; t++)
                {
                    sbyte v = CodesOihw[(co * inChannels + ci) * 9 + t];
                    Codes[(co * 9 + t) * inChannels + ci] = v;
                    TapSums[co * 9 + t] += v;
                }
        Pairs = new short[outChannels * inChannels * 9];
        if (inChannels % 2 == 0)
            for (int co = 0; co < outChannels; co++)
                for (int ci = 0; ci < inChannels; ci++)
                    for (int t = 0; t < 9; t++)
                        Pairs[((t * (inChannels / 2) + ci / 2) * outChannels + co) * 2 + (ci & 1)] = CodesOihw[(co * inChannels + ci) * 9 + t];
        Quads = new sbyte[outChannels * inChannels * 9];
        if (inChannels % 4 == 0)
            for (int co = 0; co < outChannels; co++)
                for (int ci = 0; ci < inChannels; ci++)
                    for (int t = 0; t < 9; t++)
                        Quads[((t * (inChannels / 4) + ci / 4) * outChannels + co) * 4 + (ci & 3)] = CodesOihw[(co * inChannels + ci) * 9 + t];
        foreach (var v in CodesOihw) MaxAbsCode = Math.Max(MaxAbsCode, Math.Abs((int)v));
        fullSums = new int[outChannels];
        for (int co = 0; co < outChannels; co++)
            for (int t = 0; t < 9; t++) fullSums[co] += TapSums[co * 9 + t];
    }
}
