using System.Buffers;
using System.Runtime.CompilerServices;

namespace RefQsr.Kernels;

public static partial class FloatConv2d
{
    /// <summary>Whether <see cref="RunSubPixel2ThenRgb"/> takes these weights: the fused
    /// upsampler step on its Winograd path, and a C→3 tail whose half kernel fits in a ring slot.</summary>
    public static bool SubPixel2ThenRgbSupported(FloatConvWeights subPixelWeights, FloatConvWeights tail)
        => (System.Runtime.Intrinsics.X86.Avx512F.IsSupported || RgbNarrow)   // the tail's CHW rows need one of its kernels
           && SubPixelSupported(subPixelWeights) && subPixelWeights.Winograd is not null
           && tail.OutChannels == 3 && tail.InChannels == subPixelWeights.InChannels
           && tail.Scheme == FloatConvWeights.Layout.OutTapIn && tail.Kernel / 2 <= ChwRowMap.RingSlotRows;

    /// <summary>The last x2 upsampler step (<see cref="RunSubPixel2"/>: 3x3 conv C→4C, pixel
    /// shuffle, PReLU) and the C→3 tail conv in one pass over the image, without the HR
    /// feature ever existing whole (64 floats per output pixel: 21 MB for a 72-px patch's
    /// 288x288 output, 236 MB for a 1280x720 one). Each Winograd tile row of the upsampler
    /// (8 output rows) goes into one slot of a ring of three, in the CHW layout the tail reads,
    /// and the tail computes the slot's rows as soon as the slot below is there. Same bits as
    /// <see cref="RunSubPixel2"/> then <see cref="Run"/>: every value is summed by the same code
    /// in the same order, only kept elsewhere in between; the tail's zero padding is the ring's
    /// zero columns and zeroed slots. Each thread takes a band of tile rows and also computes
    /// the tile row above and below it.</summary>
    public static void RunSubPixel2ThenRgb(ReadOnlySpan<float> input, FloatConvWeights subPixelWeights, float preluSlope,
        FloatConvWeights tail, float[] output, int height, int width, int threads)
    {
        var w = subPixelWeights;
        if (!SubPixel2ThenRgbSupported(w, tail))
            throw new NotSupportedException($"the fused upsampler and tail need AVX-512, AVX2 and FMA, or hardware Vector128, a Winograd 3x3 conv C->4C (C a multiple of 64) and a C->3 tail of kernel <= 17; got {w.InChannels}->{w.OutChannels} k{w.Kernel} and {tail.InChannels}->{tail.OutChannels} k{tail.Kernel}");
        if (height <= 0 || width <= 0) throw new ArgumentException($"image size {width}x{height} must be positive");
        int cin = w.InChannels;
        if (input.Length < (long)height * width * cin) throw new ArgumentException($"upsampler input has {input.Length} values, needs {height}x{width}x{cin}");
        if (output.Length < 4L * height * width * 3) throw new ArgumentException($"tail output has {output.Length} values, needs {2 * height}x{2 * width}x3");
        int tilesY = (height + WinoOut - 1) / WinoOut, tilesX = (width + WinoOut - 1) / WinoOut;
        float[] padded = Padding.RentTiled(input, height, width, cin, WinoOut * tilesY + 2, WinoOut * tilesX + 2);
        float[] w3 = tail.RgbWinograd ?? RgbWeights(tail);
        var sub = new SubPixelStore(w.OutChannels / 4, preluSlope);
        try
        {
            int bands = Math.Clamp(threads, 1, tilesY);
            if (bands == 1)
                UpsampleTailBand(padded, w, sub, w3, tail, output, height, width, 0, tilesY);
            else
                Parallel.For(0, bands, new ParallelOptions { MaxDegreeOfParallelism = threads }, b =>
                    UpsampleTailBand(padded, w, sub, w3, tail, output, height, width, tilesY * b / bands, tilesY * (b + 1) / bands));
        }
        finally { ArrayPool<float>.Shared.Return(padded); }
    }

    /// <summary>The tail's weights as [ci][tap][3], what <see cref="RgbPixelVectorRows"/> broadcasts (the direct path).</summary>
    static float[] RgbWeights(FloatConvWeights tail)
    {
        int cin = tail.InChannels, taps = tail.Kernel * tail.Kernel;
        var w3 = new float[cin * taps * 3];
        for (int co = 0; co < 3; co++)
            for (int ci = 0; ci < cin; ci++)
                for (int t = 0; t < taps; t++)
                    w3[(ci * taps + t) * 3 + co] = tail.Packed[(co * taps + t) * cin + ci];
        return w3;
    }

    /// <summary>Output rows [8·a0, 8·a1): upsampler tile rows a0 − 1 .. a1 into the ring, the
    /// tail after each.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static unsafe void UpsampleTailBand(float[] padded, FloatConvWeights w, SubPixelStore sub, float[] w3, FloatConvWeights tail,
        float[] output, int height, int width, int a0, int a1)
    {
        const int SlotRows = ChwRowMap.RingSlotRows;
        int cin = w.InChannels, outH = 2 * height, outW = 2 * width, k = tail.Kernel, pad = k / 2;
        int tilesY = (height + WinoOut - 1) / WinoOut, pw = WinoOut * ((width + WinoOut - 1) / WinoOut) + 2;
        int rpw = outW + 2 * pad, plane = ChwRowMap.RingSlots * SlotRows * rpw;
        var pool = ArrayPool<float>.Shared;
        // zeroed once: the padding columns are never written, and the reads past a row's end
        // (lanes that are dropped) stay finite
        float[] ring = pool.Rent(checked(cin * plane + PixelLanes));
        float[] staging = pool.Rent(checked(SlotRows * outW * cin));
        Array.Clear(ring, 0, cin * plane + PixelLanes);
        try
        {
            fixed (float* pin = padded, pring = ring, pst = staging, pw3 = w3, pout = output)
            {
                var map = new ChwRowMap(rpw, pad, ring: true);
                for (int t = a0 - 1; t <= a1; t++)
                {
                    // the slot of tile row t (output rows 8t .. 8t + 7), in plane 0
                    float* slot = pring + ((t + ChwRowMap.RingSlots) % ChwRowMap.RingSlots) * SlotRows * rpw;
                    int rows = t < 0 || t >= tilesY ? 0 : Math.Min(SlotRows, outH - SlotRows * t);
                    if (rows > 0)
                    {
                        // the staging rows hold output rows 8t ..: the store's row 0 lies 8t rows before
                        WinogradTileRows(pin, pw, w, pst - (long)SlotRows * t * outW * cin, height, width, t, t + 1, sub);
                        for (int r = 0; r < rows; r++)
                            ChwRow(pst + (long)r * outW * cin, outW, cin, slot + r * rpw + pad, plane);
                    }
                    for (int r = rows; r < SlotRows; r++)   // above, below or past the image: zeros
                        for (int c = 0; c < cin; c++) new Span<float>(slot + c * plane + r * rpw, rpw).Clear();
                    int a = t - 1;   // the tile row whose rows now have the slots above and below them
                    if (a >= a0 && a < a1)
                        RgbRows(pring, plane, map, tail, pw3, pout, outW, SlotRows * a, Math.Min(outH, SlotRows * (a + 1)));
                }
            }
        }
        finally
        {
            pool.Return(ring);
            pool.Return(staging);
        }
    }
}
