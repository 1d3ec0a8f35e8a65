using ModWsgi.Core.Diagnostics;

namespace ModWsgi.Core.Steps;

/// <summary>One command run inside the build container, under a ` -----> Title` header.</summary>
public sealed record BuildStep(string Name, string Title, string Script)
{
    /// <summary>The code a non-zero exit is reported with.</summary>
    public DiagnosticCode FailureCode { get; init; } = DiagnosticCodes.BuildStepFailed;

    /// <summary>
    /// A step whose script tells failures apart by exit code (a hash mismatch, metadata that needs the source) turns
    /// the exit code and its last lines of output into its own error here; null falls back to <see cref="FailureCode"/>.
    /// </summary>
    public Func<long, IReadOnlyList<string>, ModWsgiException?>? ExplainFailure { get; init; }
}
