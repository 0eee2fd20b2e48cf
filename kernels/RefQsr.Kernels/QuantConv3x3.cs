using System.Buffers;
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
    {
        int maxCode = MaxCode(codes);
        RunPath(codes, w, acc, height, width, threads, BestPath(w, maxCode), maxCode);
    }

    /// <summary>The int16-accumulating path pays off once it can sum at least this many
    /// vpmaddubsw results before widening.</summary>
    const int MinInt16Steps = 4;

    /// <summary>Below this many exact int16 steps the F(2x2) integer Winograd path is the faster
    /// one, where the wide-tile ones cannot run (3x3 64→64 on 96x96 here: w6a6, 8 steps, 2.6 ms
    /// against Winograd's 2.2; w6a4, 34 steps, 2.4 ms against 2.2–2.4, so a tie).</summary>
    const int Int16StepsOverWinograd = 16;

    /// <summary>The byte Winograd path pays off once it sums at least this many vpmaddubsw
    /// results in int16 before widening.</summary>
    const int MinByteWinogradSteps = 2;

    /// <summary>The byte Winograd path's int16 steps for these weights and codes, 0 where it cannot run.</summary>
    static int ByteWinogradUsable(QuantConvWeights w, int maxActivation)
        => Avx512BW.IsSupported && WinogradShape(w) && 6 * maxActivation <= 255
           && w.ByteWinograd is { } b ? ByteWinogradSteps(maxActivation, b.MaxAbs, w.InChannels) : 0;

    /// <summary>The row Winograd path pays off once it sums at least this many quads in int16
    /// before widening (below that, the widening's multiplies eat its saving).</summary>
    const int MinRowWinogradSteps = 6;

    /// <summary>The row Winograd path's int16 steps for these weights and codes, 0 where it
    /// cannot run. The activation bound is read first, so 8-bit models never make its weights.</summary>
    static int RowWinogradUsable(QuantConvWeights w, int maxActivation)
        => Avx512BW.IsSupported && WinogradShape(w) && 2 * maxActivation <= 255
           && w.RowWinograd is { } r ? r.Steps(maxActivation) : 0;

    /// <summary>Whether the VNNI 2-D Winograd path can run these weights on codes up to
    /// <paramref name="maxActivation"/> (it has no step bound).</summary>
    static bool VnniWinogradUsable(QuantConvWeights w, int maxActivation)
        => AvxVnni.IsSupported && Avx512BW.IsSupported && WinogradShape(w) && 6 * maxActivation <= 255 && w.ByteWinograd is not null;

    /// <summary>Whether the VNNI row Winograd path can run these weights on codes up to
    /// <paramref name="maxActivation"/> (it has no step bound).</summary>
    static bool VnniWinogradRowsUsable(QuantConvWeights w, int maxActivation)
        => AvxVnni.IsSupported && Avx512F.IsSupported && WinogradShape(w) && 2 * maxActivation <= 255 && w.RowWinograd is not null;

    /// <summary>Paths whose exactness bound reads the largest activation code.</summary>
    static bool NeedsMaxCode(QuantConvPath path) => path is QuantConvPath.Avx512Winograd2x4 or QuantConvPath.Avx512Winograd4x4 or QuantConvPath.Avx2Winograd2x4 or QuantConvPath.Avx2Winograd4x4 or QuantConvPath.PortableWinograd2x4 or QuantConvPath.PortableWinograd4x4 or QuantConvPath.Avx512Int16 or QuantConvPath.Avx2Int16 or QuantConvPath.Avx512WinogradBytes or QuantConvPath.Avx512WinogradRowBytes or QuantConvPath.AvxVnniWinogradRows or QuantConvPath.AvxVnniWinograd;

    /// <summary>The wide-tile F(4x4) Winograd path can run these weights (codes up to ±56, so
    /// that every transformed weight fits int16 without building them to find out) on codes up
    /// to <paramref name="maxActivation"/>.</summary>
    static bool Winograd4x4Usable(QuantConvWeights w, int maxActivation)
        => Avx512BW.IsSupported && WinogradShape(w) && w.MaxAbsCode <= 56 && w.Winograd4x4 is { } u && u.Exact(maxActivation);

    /// <summary>The wide-tile F(2x4) Winograd path can run these weights on codes up to
    /// <paramref name="maxActivation"/> (any weights up to 8 bits and up to 153 input channels).</summary>
    static bool Winograd2x4Usable(QuantConvWeights w, int maxActivation)
        => Avx512BW.IsSupported && WinogradShape(w) && w.Winograd2x4 is { } u && u.Exact(maxActivation);

    /// <summary>The fastest exact path for these weights and activation codes up to
    /// <paramref name="maxActivation"/>. The order follows 3x3 64→64 convs on 96x96 with the
    /// next codes out, one thread (2026-11-28, medians of a scratch console alternating the
    /// paths; `KernelPathBenchmarks` re-runs the comparison): the 2-D byte Winograd paths where
    /// the transformed weights fit a byte (w4a4 with VNNI products 1.64 ms against F(4x4)'s
    /// 1.72); then F(4x4) on int16 (w6a4 1.73–1.74 ms against the row VNNI path's 1.83–1.91 and
    /// the row bytes' 2.08); then the row paths (weights F(4x4) cannot take exactly); then F(2x4)
    /// (w8a8 12–16% faster than F(2x2), and ahead of the int16 path even at 42 int16 steps:
    /// w8a2 2.17 against 2.50).</summary>
    public static QuantConvPath BestPath(QuantConvWeights w, int maxActivation)
    {
        if (VnniWinogradUsable(w, maxActivation)) return QuantConvPath.AvxVnniWinograd;
        if (ByteWinogradUsable(w, maxActivation) >= MinByteWinogradSteps) return QuantConvPath.Avx512WinogradBytes;
        if (Winograd4x4Usable(w, maxActivation)) return QuantConvPath.Avx512Winograd4x4;
        if (VnniWinogradRowsUsable(w, maxActivation)) return QuantConvPath.AvxVnniWinogradRows;
        if (RowWinogradUsable(w, maxActivation) >= MinRowWinogradSteps) return QuantConvPath.Avx512WinogradRowBytes;
        if (Winograd2x4Usable(w, maxActivation)) return QuantConvPath.Avx512Winograd2x4;
        int steps = w.QuadsVectorizable && Avx512BW.IsSupported ? Int16Steps(maxActivation, w.MaxAbsCode) : 0;
        if (steps >= Int16StepsOverWinograd) return QuantConvPath.Avx512Int16;
        if (Avx512BW.IsSupported && IntWinogradVectorizable(w)) return QuantConvPath.Avx512Winograd;
        if (steps >= MinInt16Steps) return QuantConvPath.Avx512Int16;
        if (NarrowWideWinogradUsable(w, maxActivation, 4)) return Avx2.IsSupported ? QuantConvPath.Avx2Winograd4x4 : QuantConvPath.PortableWinograd4x4;
        if (NarrowWideWinogradUsable(w, maxActivation, 2)) return Avx2.IsSupported ? QuantConvPath.Avx2Winograd2x4 : QuantConvPath.PortableWinograd2x4;
        if (Avx2Int16Usable(w, maxActivation)) return QuantConvPath.Avx2Int16;
        return BestPath(w);
    }

    /// <summary>AVX2 without AVX-512, where AVX-VNNI's int32 sums do not run: the int16 path in
    /// Vector256 registers, where at least <see cref="MinInt16Steps"/> steps stay exact.</summary>
    static bool Avx2Int16Usable(QuantConvWeights w, int maxActivation)
        => !Avx512BW.IsSupported && Avx2.IsSupported && !(AvxVnni.IsSupported && VnniVectorizable(w))
           && w.QuadsVectorizable && Int16Steps(maxActivation, w.MaxAbsCode) >= MinInt16Steps;

    /// <summary>Without AVX-512: the wide-tile integer Winograd in Vector256 registers (AVX2) or
    /// with the cross-platform Vector128 API (where that is hardware), where its transformed
    /// weights exist (F(4x4): codes within ±56) and it is exact for these codes.</summary>
    static bool NarrowWideWinogradUsable(QuantConvWeights w, int maxActivation, int tileRows)
        => !Avx512BW.IsSupported && (Avx2.IsSupported || Vector128.IsHardwareAccelerated) && WinogradShape(w) && (tileRows == 2 || w.MaxAbsCode <= 56)
           && (tileRows == 2 ? w.Winograd2x4 : w.Winograd4x4) is { } u && u.Exact(maxActivation);

    /// <summary>The tile height (2 or 4) of a wide-tile Winograd path, at any width; 0 for the others.</summary>
    static int WideTileRows(QuantConvPath path) => path switch
    {
        QuantConvPath.Avx512Winograd2x4 or QuantConvPath.Avx2Winograd2x4 or QuantConvPath.PortableWinograd2x4 => 2,
        QuantConvPath.Avx512Winograd4x4 or QuantConvPath.Avx2Winograd4x4 or QuantConvPath.PortableWinograd4x4 => 4,
        _ => 0,
    };

    static int MaxCode(ReadOnlySpan<byte> codes)
    {
        if (!Vector512.IsHardwareAccelerated) return MaxCode256(codes);
        var max = Vector512<byte>.Zero;
        int i = 0;
        for (; i + 64 <= codes.Length; i += 64) max = Vector512.Max(max, Vector512.Create(codes.Slice(i, 64)));
        int m = 0;
        for (int j = 0; j < 64; j++) m = Math.Max(m, max.GetElement(j));
        for (; i < codes.Length; i++) m = Math.Max(m, codes[i]);
        return m;
    }

    static int MaxCode256(ReadOnlySpan<byte> codes)
    {
        var max = Vector256<byte>.Zero;
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
            for (; i + 32 <= codes.Length; i += 32) max = Vector256.Max(max, Vector256.Create(codes.Slice(i, 32)));
        int m = 0;
        for (int j = 0; j < 32; j++) m = Math.Max(m, max.GetElement(j));
        for (; i < codes.Length; i++) m = Math.Max(m, codes[i]);
        return m;
    }

    /// <summary>The fastest path this CPU supports for these weights.</summary>
    public static QuantConvPath BestPath(QuantConvWeights w)
    {
        if (Winograd2x4Usable(w, 255)) return QuantConvPath.Avx512Winograd2x4;
        if (Avx512BW.IsSupported && IntWinogradVectorizable(w)) return QuantConvPath.Avx512Winograd;
        if (w.PairsVectorizable && Avx512BW.IsSupported) return QuantConvPath.Avx512Pairs;
        if (AvxVnni.IsSupported && VnniVectorizable(w)) return QuantConvPath.AvxVnni;
        if (w.PairsVectorizable && Avx2.IsSupported) return QuantConvPath.Avx2Pairs;
        if (Avx2.IsSupported && w.Vectorizable) return QuantConvPath.Avx2;
        return PortableVectorizable(w) ? QuantConvPath.Portable : QuantConvPath.Scalar;
    }

    /// <summary>Runs one chosen path (for tests and benchmarks); throws if this CPU or
    /// these weights cannot run it.</summary>
    public static void Run(ReadOnlySpan<byte> codes, QuantConvWeights w, int[] acc, int height, int width, int threads, QuantConvPath path)
        => RunPath(codes, w, acc, height, width, threads, path, NeedsMaxCode(path) ? MaxCode(codes) : 0);

    /// <summary><paramref name="maxCode"/>: the largest activation code (read only where <see cref="NeedsMaxCode"/>).</summary>
    static void RunPath(ReadOnlySpan<byte> codes, QuantConvWeights w, int[] acc, int height, int width, int threads, QuantConvPath path, int maxCode)
    {
        var s = new ConvShape(height, width, w.InChannels, w.OutChannels, Kernel);
        s.Validate(codes.Length, w.CodeCount, acc.Length);
        if (path == QuantConvPath.Scalar)
        {
            CheckPath(w, path);
            Reference(codes, w.UnpackOihw(), acc, s);
            return;
        }
        using var conv = new PreparedConv(codes, w, height, width, path, maxCode, threads);
        RowParallel.For(height, threads, (r0, r1) => conv.Rows(acc, 0, r0, r1));
    }

    static void CheckPath(QuantConvWeights w, QuantConvPath path)
    {
        bool ok = path switch
        {
            QuantConvPath.Scalar => true,
            QuantConvPath.Avx2 => Avx2.IsSupported && w.Vectorizable,
            QuantConvPath.Portable => PortableVectorizable(w),
            QuantConvPath.PortableWinograd2x4 => Vector128.IsHardwareAccelerated && WinogradShape(w) && w.Winograd2x4 is not null,
            QuantConvPath.PortableWinograd4x4 => Vector128.IsHardwareAccelerated && WinogradShape(w) && w.Winograd4x4 is not null,
            QuantConvPath.Avx2Pairs => Avx2.IsSupported && w.PairsVectorizable,
            QuantConvPath.Avx2Int16 => Avx2.IsSupported && w.QuadsVectorizable,
            QuantConvPath.Avx2Winograd2x4 => Avx2.IsSupported && WinogradShape(w) && w.Winograd2x4 is not null,
            QuantConvPath.Avx2Winograd4x4 => Avx2.IsSupported && WinogradShape(w) && w.Winograd4x4 is not null,
            QuantConvPath.AvxVnni => AvxVnni.IsSupported && VnniVectorizable(w),
            QuantConvPath.Avx512Pairs => Avx512BW.IsSupported && w.PairsVectorizable,
            QuantConvPath.Avx512Int16 => Avx512BW.IsSupported && w.QuadsVectorizable,
            QuantConvPath.Avx512Winograd => Avx512BW.IsSupported && IntWinogradVectorizable(w),
            QuantConvPath.Avx512WinogradBytes => Avx512BW.IsSupported && WinogradShape(w) && w.ByteWinograd is not null,
            QuantConvPath.Avx512WinogradRowBytes => Avx512BW.IsSupported && WinogradShape(w) && w.RowWinograd is not null,
            QuantConvPath.AvxVnniWinograd => AvxVnni.IsSupported && Avx512BW.IsSupported && WinogradShape(w) && w.ByteWinograd is not null,
            QuantConvPath.AvxVnniWinogradRows => AvxVnni.IsSupported && Avx512F.IsSupported && WinogradShape(w) && w.RowWinograd is not null,
            QuantConvPath.Avx512Winograd2x4 => Avx512BW.IsSupported && WinogradShape(w) && w.Winograd2x4 is not null,
            QuantConvPath.Avx512Winograd4x4 => Avx512BW.IsSupported && WinogradShape(w) && w.Winograd4x4 is not null,
            _ => false,
        };
        if (!ok) throw new NotSupportedException($"quantized conv path {path} is not available on this CPU for {w.InChannels}->{w.OutChannels} channels");
    }

    /// <summary>One conv call's inputs in the layout its vector path reads (padded, widened,
    /// unpacked weights; every buffer from the shared pools, since a network calls this 32
    /// times per patch), ready to compute any rows into any accumulator buffer.</summary>
    sealed class PreparedConv : IDisposable
    {
        readonly QuantConvWeights w;
        readonly QuantConvPath path;
        readonly int width, height, pw, steps, offset;
        readonly byte[]? padded;
        readonly ushort[]? wide;
        readonly sbyte[]? weightBytes;
        readonly short[]? pairs, winograd, portable;
        readonly WideWinogradWeights? wideWinograd;

        public PreparedConv(ReadOnlySpan<byte> codes, QuantConvWeights w, int height, int width, QuantConvPath path, int maxCode, int threads)
        {
            CheckPath(w, path);
            if (path == QuantConvPath.Scalar) throw new ArgumentException("the scalar path runs the reference over the whole image", nameof(path));
            (this.w, this.path, this.width, this.height, pw) = (w, path, width, height, width + 2);
            if (path is QuantConvPath.Avx512Winograd or QuantConvPath.Avx512WinogradBytes or QuantConvPath.AvxVnniWinograd)
            {
                // 4x4 tiles at steps of 2 read one row and column past an odd-sized image's ring
                pw = 2 * ((width + 1) / 2) + 2;
                padded = Padding.RentTiled(codes, height, width, w.InChannels, 2 * ((height + 1) / 2) + 2, pw);
            }
            else if (WideTileRows(path) is int m and > 0)
            {
                // (m + 2) x 6 tiles at steps of m x 4 read up to m − 1 rows and 3 columns past the image's ring
                pw = 4 * ((width + 3) / 4) + 2;
                padded = Padding.RentTiled(codes, height, width, w.InChannels, m * ((height + m - 1) / m) + 2, pw);
            }
            else if (path is QuantConvPath.Avx512WinogradRowBytes or QuantConvPath.AvxVnniWinogradRows)
            {
                // 1x4 tiles at steps of 2 read one column past an odd-sized image's ring
                pw = 2 * ((width + 1) / 2) + 2;
                padded = Padding.RentTiled(codes, height, width, w.InChannels, height + 2, pw);
            }
            switch (path)
            {
                case QuantConvPath.Avx512Winograd:
                    winograd = w.IntWinograd;
                    break;
                case QuantConvPath.Avx512Winograd2x4 or QuantConvPath.Avx512Winograd4x4 or QuantConvPath.Avx2Winograd2x4 or QuantConvPath.Avx2Winograd4x4
                    or QuantConvPath.PortableWinograd2x4 or QuantConvPath.PortableWinograd4x4:
                    wideWinograd = WideTileRows(path) == 2 ? w.Winograd2x4! : w.Winograd4x4!;
                    if (!wideWinograd.Exact(maxCode))
                        throw new NotSupportedException($"quantized conv path {path} is not exact for activation codes up to {maxCode} with these weights ({wideWinograd.Scale}·conv must fit int32; Σ|w| up to {wideWinograd.MaxAbsSum})");
                    break;
                case QuantConvPath.Avx512WinogradBytes:
                    steps = Math.Min(ByteWinogradSteps(maxCode, w.ByteWinograd!.MaxAbs, w.InChannels), w.InChannels / 4);
                    if (steps < 1)
                        throw new NotSupportedException($"quantized conv path {path} is not exact for activation codes up to {maxCode} with transformed weights up to ±{w.ByteWinograd.MaxAbs}");
                    offset = 2 * maxCode;
                    break;
                case QuantConvPath.Avx512WinogradRowBytes:
                    steps = w.RowWinograd!.Steps(maxCode);
                    if (steps < 1)
                        throw new NotSupportedException($"quantized conv path {path} is not exact for activation codes up to {maxCode} with these weights (transformed weights up to ±{w.RowWinograd.MaxAbs})");
                    offset = maxCode;
                    break;
                case QuantConvPath.AvxVnniWinograd:
                    if (6 * maxCode > 255)
                        throw new NotSupportedException($"quantized conv path {path} needs activation codes up to 42, got {maxCode}");
                    offset = 2 * maxCode;
                    break;
                case QuantConvPath.AvxVnniWinogradRows:
                    if (2 * maxCode > 255)
                        throw new NotSupportedException($"quantized conv path {path} needs activation codes up to 127, got {maxCode}");
                    offset = maxCode;
                    break;
                case QuantConvPath.Avx512Int16 or QuantConvPath.Avx2Int16:
                    int exact = Int16Steps(maxCode, w.MaxAbsCode);
                    if (exact < 1)
                        throw new NotSupportedException($"quantized conv path {path} is not exact for activation codes up to {maxCode} with weight codes up to ±{w.MaxAbsCode}");
                    steps = Math.Min(exact, 9 * (w.InChannels / 4));
                    padded = Padding.Rent(codes, height, width, w.InChannels, 1, Int16TilePixels);
                    weightBytes = ArrayPool<sbyte>.Shared.Rent(w.CodeCount);
                    w.UnpackQuads(weightBytes);
                    break;
                case QuantConvPath.AvxVnni:
                    padded = Padding.Rent(codes, height, width, w.InChannels, 1, VnniTilePixels);
                    weightBytes = ArrayPool<sbyte>.Shared.Rent(w.CodeCount);
                    w.UnpackQuadsAnyShape(weightBytes);
                    break;
                case QuantConvPath.Avx512Pairs or QuantConvPath.Avx2Pairs:
                    wide = RentPaddedWide(codes, height, width, w.InChannels, threads);
                    weightBytes = ArrayPool<sbyte>.Shared.Rent(w.CodeCount);
                    pairs = ArrayPool<short>.Shared.Rent(w.CodeCount);
                    w.UnpackPairs(weightBytes, pairs);
                    break;
                case QuantConvPath.Portable:
                    padded = Padding.Rent(codes, height, width, w.InChannels, 1, 0);
                    portable = PortableWeights(w);
                    break;
                default:
                    padded = Padding.Rent(codes, height, width, w.InChannels, 1, Int16TilePixels);
                    weightBytes = w.UnpackOutTapIn();
                    break;
            }
        }

        /// <summary>Rows r0 .. r1−1 into <paramref name="acc"/>, whose element 0 is the first
        /// accumulator of row <paramref name="accRow0"/>.</summary>
        public void Rows(int[] acc, int accRow0, int r0, int r1)
        {
            switch (path)
            {
                case QuantConvPath.Avx512Int16: Avx512Int16Rows(padded!, pw, w, weightBytes!, acc, accRow0, width, r0, r1, steps); break;
                case QuantConvPath.Avx2Int16: Avx2Int16Rows(padded!, pw, w, weightBytes!, acc, accRow0, width, r0, r1, steps); break;
                case QuantConvPath.Avx512Winograd2x4 or QuantConvPath.Avx512Winograd4x4: WideWinogradRows(padded!, pw, w, wideWinograd!, acc, accRow0, height, width, r0, r1); break;
                case QuantConvPath.PortableWinograd2x4 or QuantConvPath.PortableWinograd4x4:
                    WideWinogradRowsNarrow<Int128, Vector128<short>, Vector128<int>>(padded!, pw, w, wideWinograd!, acc, accRow0, height, width, r0, r1); break;
                case QuantConvPath.Avx2Winograd2x4 or QuantConvPath.Avx2Winograd4x4: WideWinogradRowsNarrow<Int256, Vector256<short>, Vector256<int>>(padded!, pw, w, wideWinograd!, acc, accRow0, height, width, r0, r1); break;
                case QuantConvPath.Avx512Winograd: IntWinogradRows(padded!, pw, w, winograd!, acc, accRow0, height, width, r0, r1); break;
                case QuantConvPath.Avx512WinogradRowBytes: RowWinogradRows(padded!, pw, w, w.RowWinograd!, offset, steps, acc, accRow0, width, r0, r1, false); break;
                case QuantConvPath.AvxVnniWinogradRows: RowWinogradRows(padded!, pw, w, w.RowWinograd!, offset, 0, acc, accRow0, width, r0, r1, true); break;
                case QuantConvPath.Avx512WinogradBytes: ByteWinogradRows(padded!, pw, w, w.ByteWinograd!, offset, steps, acc, accRow0, height, width, r0, r1, false); break;
                case QuantConvPath.AvxVnniWinograd: ByteWinogradRows(padded!, pw, w, w.ByteWinograd!, offset, 0, acc, accRow0, height, width, r0, r1, true); break;
                case QuantConvPath.Avx512Pairs: Avx512PairRows(wide!, pw, w, pairs!, acc, accRow0, width, r0, r1); break;
                case QuantConvPath.Avx2Pairs: Avx2PairRows(wide!, pw, w, pairs!, acc, accRow0, width, r0, r1); break;
                case QuantConvPath.AvxVnni: VnniRows(padded!, pw, w, weightBytes!, acc, accRow0, width, r0, r1); break;
                case QuantConvPath.Portable: PortableRows(padded!, pw, w, portable!, acc, accRow0, width, r0, r1); break;
                default: Avx2Rows(padded!, pw, w, weightBytes!, acc, accRow0, width, r0, r1); break;
            }
        }

        public void Dispose()
        {
            if (padded is not null) ArrayPool<byte>.Shared.Return(padded);
            if (wide is not null) ArrayPool<ushort>.Shared.Return(wide);
            if (pairs is not null) ArrayPool<short>.Shared.Return(pairs);
            if (portable is not null) ArrayPool<short>.Shared.Return(portable);
            if (weightBytes is not null && path is QuantConvPath.Avx512Int16 or QuantConvPath.Avx2Int16 or QuantConvPath.Avx512Pairs or QuantConvPath.Avx2Pairs or QuantConvPath.AvxVnni) ArrayPool<sbyte>.Shared.Return(weightBytes);
        }
    }

    // Without VNNI: widen both operands to int16 and use vpmaddwd (exact, no saturation).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static unsafe void Avx2Rows(byte[] padded, int pw, QuantConvWeights w, sbyte[] byTap, int[] acc, int accRow0, int width, int r0, int r1)
    {
        int cin = w.InChannels, cout = w.OutChannels, coStride = 9 * cin;
        fixed (byte* pin = padded)
        fixed (sbyte* pwt = byTap)
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
                        pout[((y - accRow0) * width + x) * cout + co] = Vector256.Sum(sum);
                    }
        }
    }
}
