namespace RefQsr.Kernels;

/// <summary>The implementations of <see cref="QuantConv3x3"/>; all give identical results.</summary>
public enum QuantConvPath
{
    /// <summary>The scalar reference.</summary>
    Scalar,
    /// <summary>Vector256: widen to int16, vpmaddwd, horizontal sums per output.</summary>
    Avx2,
    /// <summary>The cross-platform Vector128 API only (SSE on x64 without AVX2, NEON on
    /// ARM64): int16 products of a broadcast activation code and 8 output channels' weight
    /// codes, widened to int32 and summed; 2 pixels x 16 channels per pass; output channels a
    /// multiple of 16.</summary>
    Portable,
    /// <summary>The <see cref="Avx2Winograd2x4"/> algorithm with the cross-platform Vector128 API
    /// (CPUs without AVX2): int16 transforms, products widened to int32 (no vpmaddwd there);
    /// weights up to 8 bits.</summary>
    PortableWinograd2x4,
    /// <summary>The same for <see cref="Avx2Winograd4x4"/>: weight codes within ±56.</summary>
    PortableWinograd4x4,
    /// <summary>Vector256 vpmaddwd of broadcast activation pairs against 8 output channels
    /// at once, 2 pixels x 32 channels in registers, no horizontal sums: the
    /// <see cref="Avx512Pairs"/> path for CPUs with AVX2 and no AVX-512.</summary>
    Avx2Pairs,
    /// <summary>Vector256 vpmaddubsw summed in int16 as far as stays exact, then widened: the
    /// <see cref="Avx512Int16"/> path, 2 pixels x 32 channels, for CPUs with AVX2 and no
    /// AVX-512; low bit-widths only.</summary>
    Avx2Int16,
    /// <summary>The <see cref="Avx512Winograd2x4"/> algorithm in Vector256 registers (CPUs with
    /// AVX2 and no AVX-512): 24 vpmaddwd products per 2x4 outputs; weights up to 8 bits.</summary>
    Avx2Winograd2x4,
    /// <summary>The <see cref="Avx512Winograd4x4"/> algorithm in Vector256 registers: 36 products
    /// per 4x4 outputs, for weights whose transforms fit int16 (codes within ±56).</summary>
    Avx2Winograd4x4,
    /// <summary>Vector256 vpdpbusd (u8 x s8, four products into each int32 lane) of a broadcast
    /// activation quad against 16 output channels' weight quads, 6 pixels x 16 channels in
    /// registers: exact at every bit-width, no step bound; any multiple of 4 input and 16
    /// output channels.</summary>
    AvxVnni,
    /// <summary>Vector512 vpmaddwd of broadcast activation pairs against 16 output channels
    /// at once, 4 pixels x 64 channels in registers, no horizontal sums.</summary>
    Avx512Pairs,
    /// <summary>Vector512 vpmaddubsw (u8 x s8 pairs) summed in int16 for as many steps as
    /// stay exact for the codes' magnitudes (<see cref="QuantConv3x3.Int16Steps(int, int)"/>),
    /// then widened: 64 MACs per multiply; low bit-widths only.</summary>
    Avx512Int16,
    /// <summary>Exact integer Winograd F(2x2, 3x3): int16 transformed tiles, vpmaddwd at 16
    /// positions per 2x2 outputs instead of 36 taps (<see cref="QuantConv3x3"/>'s
    /// IntWinogradExact gives the bounds that keep it exact).</summary>
    Avx512Winograd,
    /// <summary>The same with byte operands (V' shifted to unsigned bytes, U' signed bytes):
    /// vpmaddubsw summed in int16 as far as stays exact, for low bit-widths whose transformed
    /// weights fit a byte (<see cref="QuantConv3x3"/>'s ByteWinogradSteps).</summary>
    Avx512WinogradBytes,
    /// <summary>Exact integer Winograd F(2, 3) along rows only (1x2 output tiles), byte operands:
    /// 12 multiplies per 2 outputs and input channel instead of 18, and the transformed weights
    /// of up to 6-bit codes still fit a byte (|U'| ≤ 3·32), where the 2-D ones do not; for
    /// activations up to 7 bits (<see cref="QuantConv3x3"/>'s RowWinogradWeights.Steps).</summary>
    Avx512WinogradRowBytes,
    /// <summary>The same transforms with Vector256 vpdpbusd products (AvxVnni): int32 sums at
    /// once, so no int16 step bound, only that the transformed weights fit a byte and the
    /// activations are at most 7 bits.</summary>
    AvxVnniWinogradRows,
    /// <summary>The 2-D byte Winograd transforms (<see cref="Avx512WinogradBytes"/>) with
    /// Vector256 vpdpbusd products: int32 sums, so no step bound; transformed weights in a
    /// byte and activation codes up to 42 (V' + 2A in a byte).</summary>
    AvxVnniWinograd,
    /// <summary>Exact integer Winograd F(2x4, 3x3): F(4, 3) along rows, F(2, 3) down columns,
    /// int16 operands and vpmaddwd like <see cref="Avx512Winograd"/>, 24 multiplies per 2x4
    /// outputs (3 per output instead of 4); weights up to 8 bits (|U'| ≤ 72·127).</summary>
    Avx512Winograd2x4,
    /// <summary>Exact integer Winograd F(4x4, 3x3): 36 multiplies per 4x4 outputs (2.25 per
    /// output), int16 operands; for weights whose transforms fit int16 (|U'| ≤ 576·|g|: every
    /// code up to ±56, so any 6-bit weights).</summary>
    Avx512Winograd4x4,
}
