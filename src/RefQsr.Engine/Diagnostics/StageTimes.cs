using System.Collections.Concurrent;
using System.Diagnostics;

namespace RefQsr.Engine.Diagnostics;

/// <summary>Where the time of an upscale goes: wall time per stage, summed over patches
/// (patches that run concurrently each add their own time, so the sum can exceed the
/// elapsed time). Thread-safe; pass one through <c>UpscaleOptions.Profile</c>.</summary>
public sealed class StageTimes
{
    public const string ClustBlock = "ClustBlock";
    public const string Head = "head (FP32 9x9)";
    public const string Body = "quantized body";
    public const string RefEr = "RefER blocks";
    public const string BodyEnd = "body end (FP32 3x3, BN, skip)";
    public const string Upsampler = "upsampler (FP32 3x3 to 4C, shuffle, PReLU, x2)";
    public const string Tail = "tail (FP32 9x9)";
    /// <summary>Where the kernels fuse them (AVX-512): the upsampler's first x2 step alone,
    /// then its second step and the tail in one pass.</summary>
    public const string UpsamplerFirstStep = "upsampler step 1 (FP32 3x3 to 4C, shuffle, PReLU)";
    public const string UpsamplerSecondStepAndTail = "upsampler step 2 and tail, fused (FP32)";

    readonly ConcurrentDictionary<string, long> ticks = new();

    /// <summary>Seconds per stage, in the order the stages first ran.</summary>
    public IReadOnlyList<(string Stage, double Seconds)> Totals
        => [.. order.Select(s => (s, ticks[s] / (double)Stopwatch.Frequency))];

    readonly ConcurrentQueue<string> order = new();

    public void Add(string stage, long stopwatchTicks)
    {
        if (ticks.TryAdd(stage, stopwatchTicks)) order.Enqueue(stage);
        else ticks.AddOrUpdate(stage, stopwatchTicks, (_, t) => t + stopwatchTicks);
    }

    /// <summary>Times the scope it is disposed at the end of; a null <see cref="StageTimes"/> times nothing.</summary>
    internal static Scope Time(StageTimes? times, string stage) => new(times, stage);

    internal readonly struct Scope(StageTimes? times, string stage) : IDisposable
    {
        readonly long start = times is null ? 0 : Stopwatch.GetTimestamp();
        public void Dispose() => times?.Add(stage, Stopwatch.GetTimestamp() - start);
    }
}
