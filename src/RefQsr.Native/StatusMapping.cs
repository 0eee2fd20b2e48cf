using RefQsr.Engine;
using RefQsr.Engine.Weights;

namespace RefQsr.Native;

/// <summary>Runs the body of an exported function: no exception may cross into C, so each
/// becomes a <see cref="Status"/> with its message kept for refqsr_last_error.</summary>
internal static class StatusMapping
{
    public static Status Guard(Func<Status> body)
    {
        try
        {
            return body();
        }
        catch (Exception e)
        {
            var (status, text) = Classify(e);
            LastError.Set(text);
            return status;
        }
    }

    /// <summary>A failure the API itself names (a bad argument found before the engine is called).</summary>
    public static Status Fail(Status status, string text)
    {
        LastError.Set(text);
        return status;
    }

    static (Status, string) Classify(Exception e) => e switch
    {
        OperationCanceledException => (Status.Cancelled, "cancelled by the progress callback"),
        ModelArithmeticException => (Status.ModelArithmetic, e.Message),
        WeightsFormatException or FileNotFoundException or DirectoryNotFoundException or UnauthorizedAccessException or IOException
            => (Status.BadModel, e.Message),
        OutOfMemoryException or InsufficientExecutionStackException => (Status.OutOfMemory, $"out of memory: {e.Message}"),
        ArgumentException or OverflowException or NotSupportedException => (Status.InvalidArgument, e.Message),
        _ => (Status.Internal, $"internal error ({e.GetType().Name}): {e.Message}"),
    };
}
