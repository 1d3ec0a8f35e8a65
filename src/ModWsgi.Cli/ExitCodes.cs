namespace ModWsgi.Cli;

/// <summary>The tool's exit codes; the same text is printed at the end of every --help and in README.md.</summary>
internal static class ExitCodes
{
    public const int Ok = 0;
    /// <summary>A build, publish, run or inspect failed; stderr has "error MODWSGInnnn: message".</summary>
    public const int Failed = 1;
    public const int Usage = 2;
    /// <summary>128 + SIGINT, as shells report a Ctrl+C'd command.</summary>
    public const int Cancelled = 130;

    public const string HelpText =
        """
        Exit codes:
          0    success
          1    the build, publish, run or inspect failed; stderr has 'error MODWSGInnnn: message'
               (for run and shell: otherwise the exit code of the container)
          2    usage error (unknown command or option, malformed value, several .proj files)
          130  cancelled (Ctrl+C or SIGTERM); the build container is removed, no image is tagged
        """;
}

/// <summary>A command line that cannot be acted on: printed as "error: message", exit code 2.</summary>
internal sealed class UsageException(string message) : Exception(message);
