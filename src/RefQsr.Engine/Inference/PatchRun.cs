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

    /// <summary>Runs <paramref name="body"/>. A parallel loop wraps what its workers throw
    /// in an AggregateException; a caller gets the exception itself instead: the plain
    /// OperationCanceledException for a cancellation, the one exception where a single
    /// worker failed (an out-of-memory, a bad argument), and the aggregate only for several.</summary>
    public T Cancellable<T>(Func<T> body)
    {
        ThrowIfCancelled();
        try { return body(); }
        catch (AggregateException e)
        {
            var inner = e.Flatten().InnerExceptions;
            if (Token.IsCancellationRequested && inner.All(x => x is OperationCanceledException))
                throw new OperationCanceledException("the upscale was cancelled", e, Token);
            if (inner.Count == 1) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(inner[0]).Throw();
            throw;
        }
    }
}
