namespace RefQsr.Engine.Inference;

/// <summary>One run's cancellation and progress (<see cref="UpscaleOptions.Cancellation"/>,
/// <see cref="UpscaleOptions.Progress"/>): patches finish on any worker thread, so the count
/// is interlocked and each report carries the count its own patch made.</summary>
internal sealed class PatchRun(UpscaleOptions options, int total)
{
    int done;

    public CancellationToken Token => options.Cancellation;

    public void ThrowIfCancelled() => options.Cancellation.ThrowIfCancellationRequested();

    public void Finished(int patches = 1)
    {
        int now = Interlocked.Add(ref done, patches);
        options.Progress?.Report(new UpscaleProgress(now, total));
    }

    /// <summary>Runs <paramref name="body"/>; a cancellation seen on the workers of a
    /// parallel loop (which wraps it in an AggregateException) comes out as the plain
    /// OperationCanceledException a caller catches.</summary>
    public T Cancellable<T>(Func<T> body)
    {
        ThrowIfCancelled();
        try { return body(); }
        catch (AggregateException e) when (Token.IsCancellationRequested && e.Flatten().InnerExceptions.All(x => x is OperationCanceledException))
        {
            throw new OperationCanceledException("the upscale was cancelled", e, Token);
        }
    }
}
