using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace RefQsr.Kernels;

/// <summary>Signed b-bit codes (b = 2..8) stored in exactly b bits each, in blocks of 64
/// codes of 8·b bytes. A code is stored offset-binary (u = code + 2^(b−1)), split into
/// fields of 4, 2 and 1 bits from the most significant end (6 = 4+2, 5 = 4+1, 3 = 2+1,
/// 7 = 4+2+1), and each field is laid out so that one broadcast, one variable 64-bit
/// shift and one mask turn it into 64 byte lanes in a register:
/// <list type="bullet">
/// <item>nibbles (32 bytes): byte j holds element j (low) and element j+32 (high);</item>
/// <item>crumbs (16 bytes): byte j holds element j+16i at bits 2i..2i+1;</item>
/// <item>bits (8 bytes): byte j holds element j+8i at bit i.</item>
/// </list>
/// 8-bit codes are one byte each. A short last block is padded with zero codes.</summary>
public static class BitPacking
{
    public const int BlockCodes = 64;

    public static int PackedLength(int count, int bits)
    {
        CheckBits(bits);
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        return checked((count + BlockCodes - 1) / BlockCodes * 8 * bits);
    }

    /// <summary>The narrowest width (2..8) whose signed range holds every code.</summary>
    public static int BitsFor(ReadOnlySpan<sbyte> codes)
    {
        int bits = 2;
        foreach (sbyte c in codes)
            while (c < -(1 << (bits - 1)) || c >= 1 << (bits - 1)) bits++;
        return bits;
    }

    public static byte[] Pack(ReadOnlySpan<sbyte> codes, int bits)
    {
        var packed = new byte[PackedLength(codes.Length, bits)];
        int lo = -(1 << (bits - 1)), hi = (1 << (bits - 1)) - 1;
        for (int i = 0; i < codes.Length; i++)
            if (codes[i] < lo || codes[i] > hi)
                throw new ArgumentException($"code {codes[i]} at index {i} does not fit in {bits} signed bits [{lo}, {hi}]");
        Span<byte> u = stackalloc byte[BlockCodes];
        for (int b0 = 0; b0 < codes.Length; b0 += BlockCodes)
        {
            u.Clear();
            int n = Math.Min(BlockCodes, codes.Length - b0);
            for (int i = 0; i < n; i++) u[i] = (byte)(codes[b0 + i] - lo);
            if (n < BlockCodes) u[n..].Fill((byte)(-lo));   // padding decodes to code 0
            PackBlock(u, bits, packed.AsSpan(b0 / BlockCodes * 8 * bits, 8 * bits));
        }
        return packed;
    }

    static void PackBlock(ReadOnlySpan<byte> u, int bits, Span<byte> dst)
    {
        if (bits == 8)
        {
            u.CopyTo(dst);
            return;
        }
        int shift = bits, at = 0;
        foreach (int field in Fields(bits))
        {
            shift -= field;
            int mask = (1 << field) - 1;
            for (int i = 0; i < BlockCodes; i++)
            {
                int f = (u[i] >> shift) & mask;
                int perByte = 8 / field, span = BlockCodes / perByte;   // bytes in this field
                dst[at + i % span] |= (byte)(f << (i / span * field));
            }
            at += 8 * field;
        }
    }

    /// <summary>The scalar truth: decodes <paramref name="codes"/>.Length codes.</summary>
    public static void UnpackReference(ReadOnlySpan<byte> packed, int bits, Span<sbyte> codes)
    {
        CheckLengths(packed.Length, bits, codes.Length);
        int lo = -(1 << (bits - 1));
        for (int i = 0; i < codes.Length; i++)
        {
            var block = packed.Slice(i / BlockCodes * 8 * bits, 8 * bits);
            int e = i % BlockCodes;
            int u;
            if (bits == 8) u = block[e];
            else
            {
                u = 0;
                int at = 0;
                foreach (int field in Fields(bits))
                {
                    int perByte = 8 / field, span = BlockCodes / perByte;
                    u = (u << field) | (block[at + e % span] >> (e / span * field)) & ((1 << field) - 1);
                    at += 8 * field;
                }
            }
            codes[i] = (sbyte)(u + lo);
        }
    }

    /// <summary>Decodes whole blocks with Vector512 registers where AVX-512 is, with Vector256
    /// ones where only AVX2 is (per block, each field is one broadcast, one variable 64-bit
    /// shift and one mask; the fields are merged with shifts and ORs and the offset
    /// subtracted), and what is left (a short last block, or every block on a CPU with
    /// neither) with the scalar reference.</summary>
    public static void Unpack(ReadOnlySpan<byte> packed, int bits, Span<sbyte> codes) =>
        Unpack(packed, bits, codes, Avx512F.IsSupported && Avx512BW.IsSupported ? 512 : Avx2.IsSupported ? 256 : 0);

    /// <summary><see cref="Unpack(ReadOnlySpan{byte}, int, Span{sbyte})"/> with the widest
    /// registers it may use (512, 256 or 0 for scalar): the tests run each path the CPU has.</summary>
    internal static void Unpack(ReadOnlySpan<byte> packed, int bits, Span<sbyte> codes, int vectorBits)
    {
        CheckLengths(packed.Length, bits, codes.Length);
        if ((vectorBits == 512 && !(Avx512F.IsSupported && Avx512BW.IsSupported)) || (vectorBits == 256 && !Avx2.IsSupported)
            || vectorBits is not (0 or 256 or 512))
            throw new ArgumentOutOfRangeException(nameof(vectorBits), vectorBits, "not a register width this CPU has");
        int full = vectorBits == 0 ? 0 : codes.Length / BlockCodes;
        ref byte dst = ref Unsafe.As<sbyte, byte>(ref MemoryMarshal.GetReference(codes));
        for (int k = 0; k < full; k++)
        {
            var block = packed.Slice(k * 8 * bits, 8 * bits);
            if (vectorBits == 512) UnpackBlock(block, bits).StoreUnsafe(ref dst, (nuint)(k * BlockCodes));
            else
            {
                UnpackHalfBlock(block, bits, 0).StoreUnsafe(ref dst, (nuint)(k * BlockCodes));
                UnpackHalfBlock(block, bits, 1).StoreUnsafe(ref dst, (nuint)(k * BlockCodes + 32));
            }
        }
        Span<sbyte> tail = stackalloc sbyte[BlockCodes];
        for (int done = full * BlockCodes; done < codes.Length; done += BlockCodes)
        {
            int n = Math.Min(BlockCodes, codes.Length - done);
            UnpackReference(packed.Slice(done / BlockCodes * 8 * bits, 8 * bits), bits, tail);
            tail[..n].CopyTo(codes[done..]);
        }
    }

    /// <summary>Codes 32·half .. 32·half + 31 of one block in a Vector256: the Vector512 decode's
    /// shifts, one half of them at a time (nibbles: the low or the high nibble of the 32
    /// bytes; crumbs and bits: the 16 or 8 bytes broadcast, shifted per 64-bit lane).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<byte> UnpackHalfBlock(ReadOnlySpan<byte> block, int bits, int half)
    {
        ref byte p = ref MemoryMarshal.GetReference(block);
        var offset = Vector256.Create((byte)(1 << (bits - 1)));
        if (bits == 8) return Vector256.LoadUnsafe(ref p, (nuint)(32 * half)) - offset;
        Vector256<byte> u = default;
        int at = 0, shift = bits;
        foreach (int field in Fields(bits))
        {
            shift -= field;
            Vector256<byte> f = field switch
            {
                4 => Vector256.ShiftRightLogical(Vector256.LoadUnsafe(ref p, (nuint)at).AsUInt64(), 4 * half).AsByte() & Vector256.Create((byte)0x0F),
                2 => Avx2.ShiftRightLogicalVariable(Vector256.Create(Vector128.LoadUnsafe(ref p, (nuint)at)).AsUInt64(), half == 0 ? CrumbShifts.GetLower() : CrumbShifts.GetUpper()).AsByte() & Vector256.Create((byte)0x03),
                _ => Avx2.ShiftRightLogicalVariable(Vector256.Create(Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref p, at))), half == 0 ? BitShifts.GetLower() : BitShifts.GetUpper()).AsByte() & Vector256.Create((byte)0x01),
            };
            u |= (f.AsUInt16() << shift).AsByte();
            at += 8 * field;
        }
        return u - offset;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<byte> UnpackBlock(ReadOnlySpan<byte> block, int bits)
    {
        ref byte p = ref MemoryMarshal.GetReference(block);
        var offset = Vector512.Create((byte)(1 << (bits - 1)));
        if (bits == 8) return Vector512.LoadUnsafe(ref p) - offset;
        Vector512<byte> u = default;
        int at = 0, shift = bits;
        foreach (int field in Fields(bits))
        {
            shift -= field;
            Vector512<byte> f = field switch
            {
                4 => Avx512F.ShiftRightLogicalVariable(Vector512.Create(Vector256.LoadUnsafe(ref p, (nuint)at)).AsUInt64(), NibbleShifts).AsByte() & Vector512.Create((byte)0x0F),
                2 => Avx512F.ShiftRightLogicalVariable(Vector512.Create(Vector128.LoadUnsafe(ref p, (nuint)at)).AsUInt64(), CrumbShifts).AsByte() & Vector512.Create((byte)0x03),
                _ => Avx512F.ShiftRightLogicalVariable(Vector512.Create(Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref p, at))), BitShifts).AsByte() & Vector512.Create((byte)0x01),
            };
            // fields are < 16 and shifts ≤ 3, so a 16-bit shift never carries into the next byte
            u |= (f.AsUInt16() << shift).AsByte();
            at += 8 * field;
        }
        return u - offset;
    }

    static Vector512<ulong> NibbleShifts => Vector512.Create(0UL, 0, 0, 0, 4, 4, 4, 4);
    static Vector512<ulong> CrumbShifts => Vector512.Create(0UL, 0, 2, 2, 4, 4, 6, 6);
    static Vector512<ulong> BitShifts => Vector512.Create(0UL, 1, 2, 3, 4, 5, 6, 7);

    /// <summary>Field widths from the most significant end.</summary>
    static ReadOnlySpan<int> Fields(int bits) => bits switch
    {
        2 => [2],
        3 => [2, 1],
        4 => [4],
        5 => [4, 1],
        6 => [4, 2],
        7 => [4, 2, 1],
        _ => throw new ArgumentOutOfRangeException(nameof(bits), bits, "bit-packed codes are 2 to 8 bits wide"),
    };

    static void CheckBits(int bits)
    {
        if (bits < 2 || bits > 8) throw new ArgumentOutOfRangeException(nameof(bits), bits, "bit-packed codes are 2 to 8 bits wide");
    }

    static void CheckLengths(int packedLength, int bits, int count)
    {
        if (packedLength != PackedLength(count, bits))
            throw new ArgumentException($"{packedLength} packed bytes do not hold {count} codes of {bits} bits (need {PackedLength(count, bits)})");
    }
}
