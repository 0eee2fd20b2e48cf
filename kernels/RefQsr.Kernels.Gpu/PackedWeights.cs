using ILGPU;

namespace RefQsr.Kernels.Gpu;

/// <summary>Integer conv weights on the device at their bit-width b (2..8): the signed codes in
/// [out][tap][in] order as offset-binary fields (code + 2^(b−1)) of b bits, least significant
/// first, in a stream of 32-bit words with one spare word at the end. The four codes of one
/// dp4a word are 4b ≤ 32 consecutive bits, so a kernel decodes them from one 64-bit window of
/// two stream words (<see cref="Word"/>). 64 channels x 9 taps x 64 outputs at 4 bits are
/// 18 KiB instead of 36 KiB as bytes.</summary>
public static class PackedWeights
{
    /// <summary>Stream words for <paramref name="codes"/> codes at <paramref name="bits"/>.</summary>
    public static int Words(int codes, int bits) => (int)(((long)codes * bits + 31) / 32) + 1;

    /// <summary>Packs signed codes (each within b bits, two's complement) into the stream.</summary>
    public static int[] Pack(ReadOnlySpan<sbyte> codes, int bits)
    {
        if (bits < 2 || bits > 8) throw new ArgumentOutOfRangeException(nameof(bits), $"weights pack at 2..8 bits, not {bits}");
        if (codes.Length % 4 != 0) throw new ArgumentException($"{codes.Length} weight codes are not whole words of 4");
        int offset = 1 << (bits - 1);
        var stream = new int[Words(codes.Length, bits)];
        for (int i = 0; i < codes.Length; i++)
        {
            int c = codes[i];
            if (c < -offset || c >= offset) throw new ArgumentException($"weight code {c} at {i} does not fit {bits} bits");
            long bit = (long)i * bits;
            ulong field = (ulong)(uint)(c + offset) << (int)(bit & 31);
            int w = (int)(bit >> 5);
            stream[w] |= (int)(uint)field;
            stream[w + 1] |= (int)(uint)(field >> 32);
        }
        return stream;
    }

    /// <summary>Codes 4·<paramref name="word"/> .. 4·word+3 of the stream as four signed bytes of an
    /// int (byte k = code 4·word + k): the layout the dp4a kernels read.</summary>
    public static int Word(ArrayView<int> stream, int bits, int word)
    {
        long bit = (long)word * 4 * bits;
        int w = (int)(bit >> 5), shift = (int)(bit & 31);
        ulong window = ((ulong)(uint)stream[w] | ((ulong)(uint)stream[w + 1] << 32)) >> shift;
        int mask = (1 << bits) - 1, offset = 1 << (bits - 1), result = 0;
        for (int k = 0; k < 4; k++)
        {
            int code = (int)((uint)(window >> (k * bits)) & (uint)mask) - offset;
            result |= (code & 0xFF) << (8 * k);
        }
        return result;
    }
}
