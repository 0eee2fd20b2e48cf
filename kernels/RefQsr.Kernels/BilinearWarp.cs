using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace RefQsr.Kernels;

/// <summary>Backward warp of an HWC float feature (docs/refqsr.md step 6):
/// out(y, x) = bilinear(source, x + u(y, x), y + v(y, x)), taps outside the source read
/// 0. This is PyTorch's <c>grid_sample(mode="bilinear", padding_mode="zeros",
/// align_corners=True)</c> expressed in pixel coordinates, with its float32 weights
/// (nw, ne, sw, se) and its summation order.</summary>
public static class BilinearWarp
{
    /// <summary><paramref name="flow"/> is [height][width][2] = (u, v) in source pixels; the
    /// output has the flow's size, the source may have another.</summary>
    public static void Run(ReadOnlySpan<float> source, int sourceHeight, int sourceWidth, int channels,
        ReadOnlySpan<float> flow, int height, int width, Span<float> output)
    {
        if (sourceHeight <= 0 || sourceWidth <= 0 || height <= 0 || width <= 0 || channels <= 0)
            throw new ArgumentException($"warp: sizes must be positive (source {sourceWidth}x{sourceHeight}, output {width}x{height}, {channels} channels)");
        if (source.Length < sourceHeight * sourceWidth * channels)
            throw new ArgumentException($"warp: source has {source.Length} values, needs {sourceHeight * sourceWidth * channels}");
        if (flow.Length < height * width * 2)
            throw new ArgumentException($"warp: flow has {flow.Length} values, needs {height * width * 2}");
        if (output.Length < height * width * channels)
            throw new ArgumentException($"warp: output has {output.Length} values, needs {height * width * channels}");
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
            {
                int p = y * width + x;
                float ix = x + flow[2 * p], iy = y + flow[2 * p + 1];
                var o = output.Slice(p * channels, channels);
                o.Clear();
                if (!float.IsFinite(ix) || !float.IsFinite(iy)) continue;
                float fx0 = MathF.Floor(ix), fy0 = MathF.Floor(iy);
                float fx1 = fx0 + 1, fy1 = fy0 + 1;
                float nw = (fx1 - ix) * (fy1 - iy), ne = (ix - fx0) * (fy1 - iy);
                float sw = (fx1 - ix) * (iy - fy0), se = (ix - fx0) * (iy - fy0);
                // outside by more than a pixel: every tap reads 0 (also keeps the int casts in range)
                if (fx1 < 0 || fy1 < 0 || fx0 > sourceWidth - 1 || fy0 > sourceHeight - 1) continue;
                int x0 = (int)fx0, y0 = (int)fy0;
                if (Vector512.IsHardwareAccelerated && channels % 16 == 0)
                {
                    Taps(o, source, sourceHeight, sourceWidth, channels, x0, y0, nw, ne, sw, se);
                    continue;
                }
                if (Vector256.IsHardwareAccelerated && channels % 8 == 0)
                {
                    Taps256(o, source, sourceHeight, sourceWidth, channels, x0, y0, nw, ne, sw, se);
                    continue;
                }
                Accumulate(o, source, sourceHeight, sourceWidth, channels, x0, y0, nw);
                Accumulate(o, source, sourceHeight, sourceWidth, channels, x0 + 1, y0, ne);
                Accumulate(o, source, sourceHeight, sourceWidth, channels, x0, y0 + 1, sw);
                Accumulate(o, source, sourceHeight, sourceWidth, channels, x0 + 1, y0 + 1, se);
            }
    }

    /// <summary>The four taps 16 channels at a time with the sum in a register: o = ((0 + nw·s)
    /// + ne·s) + sw·s) + se·s over the taps inside the source, in that order, each product and
    /// add separate, so the same bits as <see cref="Accumulate"/> four times on a cleared o,
    /// with o written once instead of read and written per tap.</summary>
    static void Taps(Span<float> o, ReadOnlySpan<float> source, int h, int w, int channels, int x0, int y0, float nw, float ne, float sw, float se)
    {
        ref float src = ref MemoryMarshal.GetReference(source);
        bool left = (uint)x0 < (uint)w, right = (uint)(x0 + 1) < (uint)w, top = (uint)y0 < (uint)h, bottom = (uint)(y0 + 1) < (uint)h;
        nuint pnw = (nuint)((y0 * w + x0) * channels), pne = pnw + (nuint)channels;
        nuint psw = pnw + (nuint)(w * channels), pse = psw + (nuint)channels;
        Vector512<float> vnw = Vector512.Create(nw), vne = Vector512.Create(ne), vsw = Vector512.Create(sw), vse = Vector512.Create(se);
        for (int c = 0; c < channels; c += 16)
        {
            var acc = Vector512<float>.Zero;
            if (top && left) acc += Vector512.LoadUnsafe(ref src, pnw + (nuint)c) * vnw;
            if (top && right) acc += Vector512.LoadUnsafe(ref src, pne + (nuint)c) * vne;
            if (bottom && left) acc += Vector512.LoadUnsafe(ref src, psw + (nuint)c) * vsw;
            if (bottom && right) acc += Vector512.LoadUnsafe(ref src, pse + (nuint)c) * vse;
            Vector512.StoreUnsafe(acc, ref MemoryMarshal.GetReference(o), (nuint)c);
        }
    }

    /// <summary><see cref="Taps"/> 8 channels at a time (CPUs without AVX-512): the same
    /// operations per lane, so the same bits.</summary>
    static void Taps256(Span<float> o, ReadOnlySpan<float> source, int h, int w, int channels, int x0, int y0, float nw, float ne, float sw, float se)
    {
        ref float src = ref MemoryMarshal.GetReference(source);
        bool left = (uint)x0 < (uint)w, right = (uint)(x0 + 1) < (uint)w, top = (uint)y0 < (uint)h, bottom = (uint)(y0 + 1) < (uint)h;
        nuint pnw = (nuint)((y0 * w + x0) * channels), pne = pnw + (nuint)channels;
        nuint psw = pnw + (nuint)(w * channels), pse = psw + (nuint)channels;
        Vector256<float> vnw = Vector256.Create(nw), vne = Vector256.Create(ne), vsw = Vector256.Create(sw), vse = Vector256.Create(se);
        for (int c = 0; c < channels; c += 8)
        {
            var acc = Vector256<float>.Zero;
            if (top && left) acc += Vector256.LoadUnsafe(ref src, pnw + (nuint)c) * vnw;
            if (top && right) acc += Vector256.LoadUnsafe(ref src, pne + (nuint)c) * vne;
            if (bottom && left) acc += Vector256.LoadUnsafe(ref src, psw + (nuint)c) * vsw;
            if (bottom && right) acc += Vector256.LoadUnsafe(ref src, pse + (nuint)c) * vse;
            Vector256.StoreUnsafe(acc, ref MemoryMarshal.GetReference(o), (nuint)c);
        }
    }

    /// <summary>o += s·weight, 16 channels at a time where it can: a separate multiply and
    /// add per lane (never fused), so the same bits as the scalar loop.</summary>
    static void Accumulate(Span<float> o, ReadOnlySpan<float> source, int h, int w, int channels, int x, int y, float weight)
    {
        if ((uint)x >= (uint)w || (uint)y >= (uint)h) return;
        var s = source.Slice((y * w + x) * channels, channels);
        int c = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var wv = Vector512.Create(weight);
            for (; c + 16 <= channels; c += 16)
                Vector512.StoreUnsafe(Vector512.LoadUnsafe(ref MemoryMarshal.GetReference(o), (nuint)c)
                    + Vector512.LoadUnsafe(ref MemoryMarshal.GetReference(s), (nuint)c) * wv, ref MemoryMarshal.GetReference(o), (nuint)c);
        }
        if (Vector256.IsHardwareAccelerated)
        {
            var wv = Vector256.Create(weight);
            for (; c + 8 <= channels; c += 8)
                Vector256.StoreUnsafe(Vector256.LoadUnsafe(ref MemoryMarshal.GetReference(o), (nuint)c)
                    + Vector256.LoadUnsafe(ref MemoryMarshal.GetReference(s), (nuint)c) * wv, ref MemoryMarshal.GetReference(o), (nuint)c);
        }
        for (; c < channels; c++) o[c] += s[c] * weight;
    }
}
