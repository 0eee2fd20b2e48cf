using RefQsr.Engine.Inference;

namespace RefQsr.Cli;

/// <summary>Ctrl+C during a long run cancels the engine's work (between patches and blocks)
/// instead of killing the process, so nothing half-written is left behind; a second Ctrl+C
/// once cancelled ends the process as usual.</summary>
internal sealed class ConsoleCancellation : IDisposable
{
    readonly CancellationTokenSource cts = new();
    readonly bool hooked;

    public ConsoleCancellation(bool hook)
    {
        hooked = hook;
        if (hooked) Console.CancelKeyPress += OnCancel;
    }

    public CancellationToken Token => cts.Token;

    void OnCancel(object? sender, ConsoleCancelEventArgs e)
    {
        if (cts.IsCancellationRequested) return;
        e.Cancel = true;
        cts.Cancel();
    }

    /// <summary>The CLI's error for a cancelled run (exit code 130, as a shell gives for SIGINT).</summary>
    public static CliException Cancelled(string what) => new($"cancelled: {what}", 130);

    public void Dispose()
    {
        if (hooked) Console.CancelKeyPress -= OnCancel;
        cts.Dispose();
    }
}

/// <summary>"patch 12/55" on one terminal line, rewritten in place; cleared when done.</summary>
internal sealed class ConsoleProgress(TextWriter err, string label) : IProgress<UpscaleProgress>, IDisposable
{
    readonly object gate = new();
    int shown = -1;
    bool written;

    public void Report(UpscaleProgress value)
    {
        lock (gate)
        {
            // reports come from the worker threads, possibly out of order: keep the largest
            if (value.PatchesDone <= shown) return;
            shown = value.PatchesDone;
            err.Write($"\r{label} patch {value.PatchesDone}/{value.PatchesTotal}");
            err.Flush();
            written = true;
        }
    }

    public void Dispose()
    {
        lock (gate)
            if (written) { err.Write("\r" + new string(' ', label.Length + 24) + "\r"); err.Flush(); }
    }

    /// <summary>Progress is drawn only on a terminal: redirected output stays clean.</summary>
    public static bool Wanted(TextWriter err) => ReferenceEquals(err, Console.Error) && !Console.IsErrorRedirected;
}
