using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace RefQsr.Kernels;

public static partial class FloatConv2d
{
    const int PixelLanes = 16;
    const int RowsPerPass = 4;
    /// <summary>Rows per pass of the three-channel (RGB tail) loop: 8 rows x 3 channels = 24
    /// accumulators, and one pass per ring slot of the fused upsampler and tail.</summary>
    const int RgbRowsPerPass = 8;

    /// <summary>Few output channels (the 9x9 64→3 tail): vectorise over 16 neighbouring
    /// output pixels instead. The padded input is transposed to CHW once so those pixels'
    /// values for one channel are one load; output channels go in groups of four (weights
    /// zero-padded, no branches in the loop) and four output rows share every weight
    /// broadcast (16 accumulators: each load or broadcast feeds four FMAs).</summary>
    static unsafe void PixelVectorConv(ReadOnlySpan<float> input, FloatConvWeights w, float[] output, int height, int width, int threads, bool vector128 = false)
    {
        int cin = w.InChannels, cout = w.OutChannels, taps = w.Kernel * w.Kernel, pad = w.Kernel / 2;
        int ph = height + 2 * pad, pw = width + 2 * pad;
        if (input.Length < height * width * cin) throw new ArgumentException($"conv: input has {input.Length} values, needs {height * width * cin}");
        int groups = (cout + 3) / 4;
        var w4 = new float[cout == 3 ? 0 : groups * cin * taps * 4];   // [group][ci][tap][4]
        if (cout != 3)
            for (int co = 0; co < cout; co++)
                for (int ci = 0; ci < cin; ci++)
                    for (int t = 0; t < taps; t++)
                        w4[(((co / 4) * cin + ci) * taps + t) * 4 + co % 4] = w.Packed[(co * taps + t) * cin + ci];
        // the padded CHW copy is built straight from the HWC input in one pass, in a pooled
        // buffer: at HR size it is as large as the activations (240 MB for 1280x720x64)
        float[] chw = ArrayPool<float>.Shared.Rent(checked(cin * ph * pw + PixelLanes));
        try
        {
            ClearChwBorders(chw, height, width, cin, pad);
            fixed (float* src = input)
            {
                float* s = src;   // a pointer, so the lambda can capture it
                RowParallel.For(height, threads, (r0, r1) => ChwRows(s, width, cin, pad, chw, ph, pw, r0, r1));
            }
            if (cout == 3)
            {
                var w3 = w.RgbWinograd ?? RgbWeights(w);
                int passes = (height + RgbRowsPerPass - 1) / RgbRowsPerPass;
                RowParallel.For(passes, threads, (r0, r1) =>
                {
                    fixed (float* pin = chw, pw3 = w3, pout = output)
                        RgbRows(pin, ph * pw, new ChwRowMap(pw), w, pw3, pout, width, RgbRowsPerPass * r0, Math.Min(height, RgbRowsPerPass * r1), vector128);
                });
                return;
            }
            int quads = (height + RowsPerPass - 1) / RowsPerPass;
            RowParallel.For(quads, threads, (r0, r1) => PixelVectorRows(chw, ph, pw, w4, w, output, width, RowsPerPass * r0, Math.Min(height, RowsPerPass * r1)));
        }
        finally { ArrayPool<float>.Shared.Return(chw); }
    }

    /// <summary>Zeroes the padding ring of every CHW plane and the slack after the last one
    /// (the last vector of the last row reads past the image; those lanes are never stored).</summary>
    static void ClearChwBorders(float[] chw, int height, int width, int cin, int pad)
    {
        int plane = (height + 2 * pad) * (width + 2 * pad);
        for (int c = 0; c < cin; c++) Padding.ClearRing(chw.AsSpan(c * plane, plane), height, width, 1, pad);
        chw.AsSpan(cin * plane, PixelLanes).Clear();
    }

    /// <summary>Rows [y0, y1) of the HWC input into the CHW planes.</summary>
    static unsafe void ChwRows(float* input, int width, int cin, int pad, float[] chw, int ph, int pw, int y0, int y1)
    {
        fixed (float* dst0 = chw)
            for (int y = y0; y < y1; y++)
                ChwRow(input + (long)y * width * cin, width, cin, dst0 + (y + pad) * pw + pad, ph * pw);
    }

    /// <summary>One HWC row into its row of the CHW planes (<paramref name="dst"/> is its first
    /// pixel in plane 0), 16 pixels x all channels at a time (4 KB for 64 channels, in L1
    /// while it is scattered to the planes).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static unsafe void ChwRow(float* src, int width, int cin, float* dst, int plane)
    {
        for (int x0 = 0; x0 < width; x0 += PixelLanes)
        {
            int n = Math.Min(PixelLanes, width - x0);
            float* s = src + (long)x0 * cin, d = dst + x0;
            int c = 0, done = 0;   // channels [0, c) are written for pixels [0, done)
            if (n == PixelLanes && Avx512F.IsSupported)
            {
                for (; c + 16 <= cin; c += 16, d += 16 * plane)
                    Transpose16x16(s + c, cin, d, plane);
                done = n;
            }
            else if (n >= 8 && Avx.IsSupported)
            {
                done = n & ~7;
                for (; c + 8 <= cin; c += 8, d += 8 * plane)
                    for (int i = 0; i < done; i += 8) Transpose8x8(s + (long)i * cin + c, cin, d + i, plane);
            }
            for (int cc = 0; cc < c; cc++)   // pixels past the last full group of 8
                for (int i = done; i < n; i++) dst[x0 + (long)cc * plane + i] = s[i * cin + cc];
            for (; c < cin; c++, d += plane)
                for (int i = 0; i < n; i++) d[i] = s[i * cin + c];
        }
    }

    /// <summary>8 pixels x 8 channels (rows <paramref name="srcStride"/> apart) into 8 planes
    /// of 8 pixels (<paramref name="dstStride"/> apart): the AVX 8x8 float transpose (unpack,
    /// shuffle, 128-bit permute), for CPUs without AVX-512.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static unsafe void Transpose8x8(float* src, int srcStride, float* dst, int dstStride)
    {
        var r0 = Vector256.Load(src); var r1 = Vector256.Load(src + srcStride);
        var r2 = Vector256.Load(src + 2 * srcStride); var r3 = Vector256.Load(src + 3 * srcStride);
        var r4 = Vector256.Load(src + 4 * srcStride); var r5 = Vector256.Load(src + 5 * srcStride);
        var r6 = Vector256.Load(src + 6 * srcStride); var r7 = Vector256.Load(src + 7 * srcStride);
        var t0 = Avx.UnpackLow(r0, r1); var t1 = Avx.UnpackHigh(r0, r1);
        var t2 = Avx.UnpackLow(r2, r3); var t3 = Avx.UnpackHigh(r2, r3);
        var t4 = Avx.UnpackLow(r4, r5); var t5 = Avx.UnpackHigh(r4, r5);
        var t6 = Avx.UnpackLow(r6, r7); var t7 = Avx.UnpackHigh(r6, r7);
        var u0 = Avx.Shuffle(t0, t2, 0x44); var u1 = Avx.Shuffle(t0, t2, 0xEE);
        var u2 = Avx.Shuffle(t1, t3, 0x44); var u3 = Avx.Shuffle(t1, t3, 0xEE);
        var u4 = Avx.Shuffle(t4, t6, 0x44); var u5 = Avx.Shuffle(t4, t6, 0xEE);
        var u6 = Avx.Shuffle(t5, t7, 0x44); var u7 = Avx.Shuffle(t5, t7, 0xEE);
        Avx.Permute2x128(u0, u4, 0x20).Store(dst);
        Avx.Permute2x128(u1, u5, 0x20).Store(dst + dstStride);
        Avx.Permute2x128(u2, u6, 0x20).Store(dst + 2 * dstStride);
        Avx.Permute2x128(u3, u7, 0x20).Store(dst + 3 * dstStride);
        Avx.Permute2x128(u0, u4, 0x31).Store(dst + 4 * dstStride);
        Avx.Permute2x128(u1, u5, 0x31).Store(dst + 5 * dstStride);
        Avx.Permute2x128(u2, u6, 0x31).Store(dst + 6 * dstStride);
        Avx.Permute2x128(u3, u7, 0x31).Store(dst + 7 * dstStride);
    }

    /// <summary>Where padded row r of the CHW planes starts within a plane: row r of the
    /// whole padded image, or, for the fused upsampler and tail, the row of a ring of
    /// <see cref="RingSlots"/> slots of <see cref="RingSlotRows"/> image rows, in which image
    /// row Y (padded row Y + pad, Y ≥ −RingSlots·RingSlotRows) lives in slot ⌊Y / 8⌋ mod 3.</summary>
    readonly struct ChwRowMap(int pw, int pad = 0, bool ring = false)
    {
        public const int RingSlotRows = 8, RingSlots = 3;

        public int Offset(int paddedRow)
        {
            if (!ring) return paddedRow * pw;
            int t = paddedRow - pad + RingSlots * RingSlotRows;   // ≥ 0, and a whole turn of the ring changes no slot
            return (t / RingSlotRows % RingSlots * RingSlotRows + t % RingSlotRows) * pw;
        }

        /// <summary>Offset of the first row of image row <paramref name="y"/>'s slot.</summary>
        public static int SlotOffset(int y, int pw) => (y / RingSlotRows % RingSlots) * RingSlotRows * pw;
    }

    /// <summary>Index vectors of <see cref="Transpose16x16"/>'s four stages (k = 8, 4, 2, 1):
    /// lane j of the new row i takes row i, lane j where bit k of j is clear, else row i + k,
    /// lane j − k (<c>First</c>); the new row i + k takes row i, lane j + k where it is clear,
    /// else its own lane j (<c>Second</c>).</summary>
    static readonly int[] TransposeFirst = TransposeIndices(first: true), TransposeSecond = TransposeIndices(first: false);

    static int[] TransposeIndices(bool first)
    {
        var idx = new int[4 * 16];
        for (int s = 0; s < 4; s++)
        {
            int k = 8 >> s;
            for (int j = 0; j < 16; j++)
                idx[s * 16 + j] = first ? ((j & k) == 0 ? j : 16 + j - k) : ((j & k) == 0 ? j + k : 16 + j);
        }
        return idx;
    }

    /// <summary>out[c][p] = in[p][c] for a 16x16 block: 16 loads, four stages that swap the
    /// off-diagonal halves of every block of size 2k (16 two-source permutes each), 16 stores.
    /// Moves values only, so the CHW copy has the same bits as the scalar loop.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static unsafe void Transpose16x16(float* src, int srcStride, float* dst, int dstStride)
    {
        // unrolled by hand: the 16 rows stay in registers (an indexed stackalloc array did not)
        var r0 = Vector512.Load(src + 0 * srcStride);
        var r1 = Vector512.Load(src + 1 * srcStride);
        var r2 = Vector512.Load(src + 2 * srcStride);
        var r3 = Vector512.Load(src + 3 * srcStride);
        var r4 = Vector512.Load(src + 4 * srcStride);
        var r5 = Vector512.Load(src + 5 * srcStride);
        var r6 = Vector512.Load(src + 6 * srcStride);
        var r7 = Vector512.Load(src + 7 * srcStride);
        var r8 = Vector512.Load(src + 8 * srcStride);
        var r9 = Vector512.Load(src + 9 * srcStride);
        var r10 = Vector512.Load(src + 10 * srcStride);
        var r11 = Vector512.Load(src + 11 * srcStride);
        var r12 = Vector512.Load(src + 12 * srcStride);
        var r13 = Vector512.Load(src + 13 * srcStride);
        var r14 = Vector512.Load(src + 14 * srcStride);
        var r15 = Vector512.Load(src + 15 * srcStride);
        fixed (int* pf = TransposeFirst, ps = TransposeSecond)
        {
            var f8 = Vector512.Load(pf + 0); var s8 = Vector512.Load(ps + 0);
            (r0, r8) = (Avx512F.PermuteVar16x32x2(r0, f8, r8), Avx512F.PermuteVar16x32x2(r0, s8, r8));
            (r1, r9) = (Avx512F.PermuteVar16x32x2(r1, f8, r9), Avx512F.PermuteVar16x32x2(r1, s8, r9));
            (r2, r10) = (Avx512F.PermuteVar16x32x2(r2, f8, r10), Avx512F.PermuteVar16x32x2(r2, s8, r10));
            (r3, r11) = (Avx512F.PermuteVar16x32x2(r3, f8, r11), Avx512F.PermuteVar16x32x2(r3, s8, r11));
            (r4, r12) = (Avx512F.PermuteVar16x32x2(r4, f8, r12), Avx512F.PermuteVar16x32x2(r4, s8, r12));
            (r5, r13) = (Avx512F.PermuteVar16x32x2(r5, f8, r13), Avx512F.PermuteVar16x32x2(r5, s8, r13));
            (r6, r14) = (Avx512F.PermuteVar16x32x2(r6, f8, r14), Avx512F.PermuteVar16x32x2(r6, s8, r14));
            (r7, r15) = (Avx512F.PermuteVar16x32x2(r7, f8, r15), Avx512F.PermuteVar16x32x2(r7, s8, r15));
            var f4 = Vector512.Load(pf + 16); var s4 = Vector512.Load(ps + 16);
            (r0, r4) = (Avx512F.PermuteVar16x32x2(r0, f4, r4), Avx512F.PermuteVar16x32x2(r0, s4, r4));
            (r1, r5) = (Avx512F.PermuteVar16x32x2(r1, f4, r5), Avx512F.PermuteVar16x32x2(r1, s4, r5));
            (r2, r6) = (Avx512F.PermuteVar16x32x2(r2, f4, r6), Avx512F.PermuteVar16x32x2(r2, s4, r6));
            (r3, r7) = (Avx512F.PermuteVar16x32x2(r3, f4, r7), Avx512F.PermuteVar16x32x2(r3, s4, r7));
            (r8, r12) = (Avx512F.PermuteVar16x32x2(r8, f4, r12), Avx512F.PermuteVar16x32x2(r8, s4, r12));
            (r9, r13) = (Avx512F.PermuteVar16x32x2(r9, f4, r13), Avx512F.PermuteVar16x32x2(r9, s4, r13));
            (r10, r14) = (Avx512F.PermuteVar16x32x2(r10, f4, r14), Avx512F.PermuteVar16x32x2(r10, s4, r14));
            (r11, r15) = (Avx512F.PermuteVar16x32x2(r11, f4, r15), Avx512F.PermuteVar16x32x2(r11, s4, r15));
            var f2 = Vector512.Load(pf + 32); var s2 = Vector512.Load(ps + 32);
            (r0, r2) = (Avx512F.PermuteVar16x32x2(r0, f2, r2), Avx512F.PermuteVar16x32x2(r0, s2, r2));
            (r1, r3) = (Avx512F.PermuteVar16x32x2(r1, f2, r3), Avx512F.PermuteVar16x32x2(r1, s2, r3));
            (r4, r6) = (Avx512F.PermuteVar16x32x2(r4, f2, r6), Avx512F.PermuteVar16x32x2(r4, s2, r6));
            (r5, r7) = (Avx512F.PermuteVar16x32x2(r5, f2, r7), Avx512F.PermuteVar16x32x2(r5, s2, r7));
            (r8, r10) = (Avx512F.PermuteVar16x32x2(r8, f2, r10), Avx512F.PermuteVar16x32x2(r8, s2, r10));
            (r9, r11) = (Avx512F.PermuteVar16x32x2(r9, f2, r11), Avx512F.PermuteVar16x32x2(r9, s2, r11));
            (r12, r14) = (Avx512F.PermuteVar16x32x2(r12, f2, r14), Avx512F.PermuteVar16x32x2(r12, s2, r14));
            (r13, r15) = (Avx512F.PermuteVar16x32x2(r13, f2, r15), Avx512F.PermuteVar16x32x2(r13, s2, r15));
            var f1 = Vector512.Load(pf + 48); var s1 = Vector512.Load(ps + 48);
            (r0, r1) = (Avx512F.PermuteVar16x32x2(r0, f1, r1), Avx512F.PermuteVar16x32x2(r0, s1, r1));
            (r2, r3) = (Avx512F.PermuteVar16x32x2(r2, f1, r3), Avx512F.PermuteVar16x32x2(r2, s1, r3));
            (r4, r5) = (Avx512F.PermuteVar16x32x2(r4, f1, r5), Avx512F.PermuteVar16x32x2(r4, s1, r5));
            (r6, r7) = (Avx512F.PermuteVar16x32x2(r6, f1, r7), Avx512F.PermuteVar16x32x2(r6, s1, r7));
            (r8, r9) = (Avx512F.PermuteVar16x32x2(r8, f1, r9), Avx512F.PermuteVar16x32x2(r8, s1, r9));
            (r10, r11) = (Avx512F.PermuteVar16x32x2(r10, f1, r11), Avx512F.PermuteVar16x32x2(r10, s1, r11));
            (r12, r13) = (Avx512F.PermuteVar16x32x2(r12, f1, r13), Avx512F.PermuteVar16x32x2(r12, s1, r13));
            (r14, r15) = (Avx512F.PermuteVar16x32x2(r14, f1, r15), Avx512F.PermuteVar16x32x2(r14, s1, r15));
        }
        r0.Store(dst + 0 * dstStride);
        r1.Store(dst + 1 * dstStride);
        r2.Store(dst + 2 * dstStride);
        r3.Store(dst + 3 * dstStride);
        r4.Store(dst + 4 * dstStride);
        r5.Store(dst + 5 * dstStride);
        r6.Store(dst + 6 * dstStride);
        r7.Store(dst + 7 * dstStride);
        r8.Store(dst + 8 * dstStride);
        r9.Store(dst + 9 * dstStride);
        r10.Store(dst + 10 * dstStride);
        r11.Store(dst + 11 * dstStride);
        r12.Store(dst + 12 * dstStride);
        r13.Store(dst + 13 * dstStride);
        r14.Store(dst + 14 * dstStride);
        r15.Store(dst + 15 * dstStride);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static unsafe void PixelVectorRows(float[] chw, int ph, int pw, float[] w4, FloatConvWeights w, float[] output, int width, int y0, int y1)
    {
        int k = w.Kernel, cin = w.InChannels, cout = w.OutChannels, taps = k * k, plane = ph * pw;
        var lane = stackalloc float[PixelLanes * 4 * RowsPerPass];
        fixed (float* pin = chw, pw4 = w4, pout = output)
        {
            for (int y = y0; y < y1; y += RowsPerPass)
            {
                // rows past the last compute a duplicate of the first row and are dropped
                int rows = Math.Min(RowsPerPass, y1 - y);
                for (int x = 0; x < width; x += PixelLanes)
                    for (int g = 0; g * 4 < cout; g++)
                    {
                        Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
                        Vector512<float> b0 = default, b1 = default, b2 = default, b3 = default;
                        Vector512<float> c0 = default, c1 = default, c2 = default, c3 = default;
                        Vector512<float> d0 = default, d1 = default, d2 = default, d3 = default;
                        float* wt = pw4 + g * cin * taps * 4;
                        for (int ci = 0; ci < cin; ci++)
                            for (int ky = 0; ky < k; ky++)
                            {
                                float* row0 = pin + ci * plane + (y + ky) * pw + x;
                                float* row1 = rows > 1 ? row0 + pw : row0;
                                float* row2 = rows > 2 ? row0 + 2 * pw : row0;
                                float* row3 = rows > 3 ? row0 + 3 * pw : row0;
                                for (int kx = 0; kx < k; kx++, wt += 4)
                                {
                                    var w0 = Vector512.Create(wt[0]); var w1 = Vector512.Create(wt[1]);
                                    var w2 = Vector512.Create(wt[2]); var w3 = Vector512.Create(wt[3]);
                                    var v = Vector512.Load(row0 + kx);
                                    a0 = Avx512F.FusedMultiplyAdd(v, w0, a0); a1 = Avx512F.FusedMultiplyAdd(v, w1, a1);
                                    a2 = Avx512F.FusedMultiplyAdd(v, w2, a2); a3 = Avx512F.FusedMultiplyAdd(v, w3, a3);
                                    v = Vector512.Load(row1 + kx);
                                    b0 = Avx512F.FusedMultiplyAdd(v, w0, b0); b1 = Avx512F.FusedMultiplyAdd(v, w1, b1);
                                    b2 = Avx512F.FusedMultiplyAdd(v, w2, b2); b3 = Avx512F.FusedMultiplyAdd(v, w3, b3);
                                    v = Vector512.Load(row2 + kx);
                                    c0 = Avx512F.FusedMultiplyAdd(v, w0, c0); c1 = Avx512F.FusedMultiplyAdd(v, w1, c1);
                                    c2 = Avx512F.FusedMultiplyAdd(v, w2, c2); c3 = Avx512F.FusedMultiplyAdd(v, w3, c3);
                                    v = Vector512.Load(row3 + kx);
                                    d0 = Avx512F.FusedMultiplyAdd(v, w0, d0); d1 = Avx512F.FusedMultiplyAdd(v, w1, d1);
                                    d2 = Avx512F.FusedMultiplyAdd(v, w2, d2); d3 = Avx512F.FusedMultiplyAdd(v, w3, d3);
                                }
                            }
                        a0.Store(lane); a1.Store(lane + 16); a2.Store(lane + 32); a3.Store(lane + 48);
                        b0.Store(lane + 64); b1.Store(lane + 80); b2.Store(lane + 96); b3.Store(lane + 112);
                        c0.Store(lane + 128); c1.Store(lane + 144); c2.Store(lane + 160); c3.Store(lane + 176);
                        d0.Store(lane + 192); d1.Store(lane + 208); d2.Store(lane + 224); d3.Store(lane + 240);
                        int n = Math.Min(PixelLanes, width - x), m = Math.Min(4, cout - 4 * g);
                        for (int r = 0; r < rows; r++)
                        {
                            float* dst = pout + ((y + r) * width + x) * cout + 4 * g;
                            for (int i = 0; i < n; i++)
                                for (int j = 0; j < m; j++) dst[i * cout + j] = lane[r * 64 + j * 16 + i];
                        }
                    }
            }
        }
    }

    /// <summary>The RGB tail's rows [y0, y1): row Winograd where the weights have it, else direct;
    /// <paramref name="pw3"/> is <see cref="FloatConvWeights.RgbWinograd"/> or <see cref="RgbWeights"/>.</summary>
    static unsafe void RgbRows(float* pin, int plane, ChwRowMap map, FloatConvWeights w, float* pw3, float* pout, int width, int y0, int y1, bool vector128 = false)
    {
        if (w.RgbWinograd is not null)
        {
            if (vector128 || Vector128Only) RgbWinogradRowsNarrow<Float128, Vector128<float>>(pin, plane, map, pw3, w.InChannels, w.Kernel, pout, width, y0, y1);
            else if (Avx512F.IsSupported) RgbWinogradRows(pin, plane, map, pw3, w.InChannels, w.Kernel, pout, width, y0, y1);
            else RgbWinogradRowsNarrow<Float256, Vector256<float>>(pin, plane, map, pw3, w.InChannels, w.Kernel, pout, width, y0, y1);
            return;
        }
        if (vector128 || Vector128Only) RgbPixelVectorRowsNarrow<Float128, Vector128<float>>(pin, plane, map, pw3, w.InChannels, w.Kernel, pout, width, y0, y1);
        else if (Avx512F.IsSupported) RgbPixelVectorRows(pin, plane, map, pw3, w.InChannels, w.Kernel, pout, width, y0, y1);
        else RgbPixelVectorRowsNarrow<Float256, Vector256<float>>(pin, plane, map, pw3, w.InChannels, w.Kernel, pout, width, y0, y1);
    }

    /// <summary>The RGB tail in Vector128 registers on any CPU, by row Winograd or directly as
    /// the weights say (what CPUs without AVX2 and FMA take; tests: the wider kernels' bits).</summary>
    internal static void RunRgbVector128(ReadOnlySpan<float> input, FloatConvWeights w, float[] output, int height, int width, int threads)
    {
        if (w.OutChannels != 3 || w.Scheme != FloatConvWeights.Layout.OutTapIn)
            throw new NotSupportedException("the Vector128 RGB kernels take C->3 weights");
        new ConvShape(height, width, w.InChannels, 3, w.Kernel).Validate(input.Length, w.Length, output.Length);
        PixelVectorConv(input, w, output, height, width, threads, vector128: true);
    }

    /// <summary>Exactly three output channels (the RGB tail): groups of four would waste a
    /// quarter of the FMAs on a zero channel, so eight output rows x three channels (24
    /// accumulators) share each weight broadcast and each input load instead. Every output's
    /// FMAs run in the same order (ci, ky, kx) as in <see cref="PixelVectorRows"/>. Output row
    /// y reads padded rows y .. y + k − 1, found through <paramref name="map"/> (the whole
    /// padded image, or the fused upsampler's ring of rows); w3 is [ci][tap][3].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static unsafe void RgbPixelVectorRows(float* pin, int plane, ChwRowMap map, float* pw3, int cin, int k, float* pout, int width, int y0, int y1)
    {
        var lane = stackalloc float[PixelLanes * 3 * RgbRowsPerPass];
        var rowAt = stackalloc int[RgbRowsPerPass + k];   // offsets of the padded rows one pass reads
        for (int y = y0; y < y1; y += RgbRowsPerPass)
        {
            // rows past the last compute a duplicate of the last row and are dropped
            int rows = Math.Min(RgbRowsPerPass, y1 - y);
            for (int i = 0; i < RgbRowsPerPass + k - 1; i++) rowAt[i] = map.Offset(y + Math.Min(i, rows + k - 2));
            for (int x = 0; x < width; x += PixelLanes)
            {
                Vector512<float> a00 = default, a01 = default, a02 = default;
                Vector512<float> a10 = default, a11 = default, a12 = default;
                Vector512<float> a20 = default, a21 = default, a22 = default;
                Vector512<float> a30 = default, a31 = default, a32 = default;
                Vector512<float> a40 = default, a41 = default, a42 = default;
                Vector512<float> a50 = default, a51 = default, a52 = default;
                Vector512<float> a60 = default, a61 = default, a62 = default;
                Vector512<float> a70 = default, a71 = default, a72 = default;
                float* wt = pw3;
                for (int ci = 0; ci < cin; ci++)
                    for (int ky = 0; ky < k; ky++)
                    {
                        float* p = pin + ci * plane + x;
                        float* row0 = p + rowAt[ky + 0];
                        float* row1 = p + rowAt[ky + 1];
                        float* row2 = p + rowAt[ky + 2];
                        float* row3 = p + rowAt[ky + 3];
                        float* row4 = p + rowAt[ky + 4];
                        float* row5 = p + rowAt[ky + 5];
                        float* row6 = p + rowAt[ky + 6];
                        float* row7 = p + rowAt[ky + 7];
                        for (int kx = 0; kx < k; kx++, wt += 3)
                        {
                            var w0 = Vector512.Create(wt[0]); var w1 = Vector512.Create(wt[1]); var w2 = Vector512.Create(wt[2]);
                            var v0 = Vector512.Load(row0 + kx);
                            a00 = Avx512F.FusedMultiplyAdd(v0, w0, a00); a01 = Avx512F.FusedMultiplyAdd(v0, w1, a01); a02 = Avx512F.FusedMultiplyAdd(v0, w2, a02);
                            var v1 = Vector512.Load(row1 + kx);
                            a10 = Avx512F.FusedMultiplyAdd(v1, w0, a10); a11 = Avx512F.FusedMultiplyAdd(v1, w1, a11); a12 = Avx512F.FusedMultiplyAdd(v1, w2, a12);
                            var v2 = Vector512.Load(row2 + kx);
                            a20 = Avx512F.FusedMultiplyAdd(v2, w0, a20); a21 = Avx512F.FusedMultiplyAdd(v2, w1, a21); a22 = Avx512F.FusedMultiplyAdd(v2, w2, a22);
                            var v3 = Vector512.Load(row3 + kx);
                            a30 = Avx512F.FusedMultiplyAdd(v3, w0, a30); a31 = Avx512F.FusedMultiplyAdd(v3, w1, a31); a32 = Avx512F.FusedMultiplyAdd(v3, w2, a32);
                            var v4 = Vector512.Load(row4 + kx);
                            a40 = Avx512F.FusedMultiplyAdd(v4, w0, a40); a41 = Avx512F.FusedMultiplyAdd(v4, w1, a41); a42 = Avx512F.FusedMultiplyAdd(v4, w2, a42);
                            var v5 = Vector512.Load(row5 + kx);
                            a50 = Avx512F.FusedMultiplyAdd(v5, w0, a50); a51 = Avx512F.FusedMultiplyAdd(v5, w1, a51); a52 = Avx512F.FusedMultiplyAdd(v5, w2, a52);
                            var v6 = Vector512.Load(row6 + kx);
                            a60 = Avx512F.FusedMultiplyAdd(v6, w0, a60); a61 = Avx512F.FusedMultiplyAdd(v6, w1, a61); a62 = Avx512F.FusedMultiplyAdd(v6, w2, a62);
                            var v7 = Vector512.Load(row7 + kx);
                            a70 = Avx512F.FusedMultiplyAdd(v7, w0, a70); a71 = Avx512F.FusedMultiplyAdd(v7, w1, a71); a72 = Avx512F.FusedMultiplyAdd(v7, w2, a72);
                        }
                    }
                a00.Store(lane + 0); a01.Store(lane + 16); a02.Store(lane + 32);
                a10.Store(lane + 48); a11.Store(lane + 64); a12.Store(lane + 80);
                a20.Store(lane + 96); a21.Store(lane + 112); a22.Store(lane + 128);
                a30.Store(lane + 144); a31.Store(lane + 160); a32.Store(lane + 176);
                a40.Store(lane + 192); a41.Store(lane + 208); a42.Store(lane + 224);
                a50.Store(lane + 240); a51.Store(lane + 256); a52.Store(lane + 272);
                a60.Store(lane + 288); a61.Store(lane + 304); a62.Store(lane + 320);
                a70.Store(lane + 336); a71.Store(lane + 352); a72.Store(lane + 368);
                int n = Math.Min(PixelLanes, width - x);
                for (int r = 0; r < rows; r++)
                {
                    float* dst = pout + ((y + r) * width + x) * 3;
                    for (int i = 0; i < n; i++)
                    {
                        dst[i * 3] = lane[r * 48 + i];
                        dst[i * 3 + 1] = lane[r * 48 + 16 + i];
                        dst[i * 3 + 2] = lane[r * 48 + 32 + i];
                    }
                }
            }
        }
    }
}
