namespace RefQsr.Cli;

/// <summary>A user-facing error: printed as one line on stderr, exit code 2 for usage
/// errors and 1 for everything else.</summary>
public sealed class CliException(string message, int exitCode = 1) : Exception(message)
{
    public int ExitCode { get; } = exitCode;
    public static CliException Usage(string message) => new(message, 2);
}
